"""KPIs and the overview in a real Chromium, at 360 px and in Thai: the officer creates a KPI,
links the legacy project and reports a quarter with evidence; the evaluator drills from the
whole administration down to a project and through the strategy tree. Every page is
photographed at 360 and 1280 px, must not scroll sideways and passes axe."""

from __future__ import annotations

from typing import Any

from tests.browser.test_journeys import (  # the suite's server, browser and signed-in tab
    PROJECT_CODE,
    Server,
    axe,  # noqa: F401
    browser,  # noqa: F401
    person,  # noqa: F401
    server,  # noqa: F401
)
from tests.work_data import PDF


def test_officer_creates_links_and_reports_a_kpi(
    person: Any,  # noqa: F811
    server: Server,  # noqa: F811
    tmp_path: Any,
) -> None:
    officer = person("officer")
    officer.sign_in()
    page = officer.page
    page.set_viewport_size({"width": 360, "height": 800})
    officer.goto("/kpis?lang=th")
    page.click("a[href='/kpis/new']")
    page.fill("#code", "5023-7300")
    page.fill("#name", "ร้อยละของโรงเรียนที่จัดกิจกรรมส่งเสริมการอ่าน")
    page.fill("#target", "-5")
    page.click("#kpi-form button[type=submit]")
    # the refused page's summary takes the focus once it has loaded (autofocus), not before
    page.wait_for_function(
        "document.activeElement && document.activeElement.id === 'error-summary'"
    )
    page.fill("#target", "80")
    page.click("#kpi-form button[type=submit]")
    page.wait_for_url("**/kpis/*")
    page.fill("#project_code", PROJECT_CODE)
    page.click("#h-projects ~ form button[type=submit]")
    page.wait_for_selector(f"#kpi-projects [data-project='{PROJECT_CODE}']")
    evidence = tmp_path / "หลักฐาน.pdf"
    evidence.write_bytes(PDF)
    page.click("#q2 summary")
    page.fill("#q2-value", "40")
    page.fill("#q2-narrative", "จัดกิจกรรมแล้ว 4 โรงเรียน")
    page.set_input_files("#q2-files", str(evidence))
    page.click("#q2 form button[type=submit]")
    page.wait_for_selector("#q2 [data-evidence]")
    assert page.text_content("#kpi-quarters tr[data-quarter='2'] td") == "40.00"
    officer.shoot("kpi-managed", accessible=True)
    kpi_id = server.scalar("SELECT id FROM kpi WHERE code = '5023-7300'")
    actions = server.scalar(
        "SELECT count(*) FROM audit_entry WHERE object_type = 'kpi' AND object_id = :k", k=kpi_id
    )
    assert actions == 4  # created, linked, reported, evidence


def test_evaluator_drills_down_from_the_whole_administration(person: Any) -> None:  # noqa: F811
    evaluator = person("evaluator")
    evaluator.sign_in()
    page = evaluator.page
    page.set_viewport_size({"width": 360, "height": 800})
    page.click(".bar-menu > summary")  # the phone's menu
    page.click("nav.menu a[href='/overview']")
    page.wait_for_url("**/overview/units/10000000*")
    evaluator.shoot("overview-root", accessible=True)
    page.click("a[href^='/overview/units/50230000']")
    page.wait_for_url("**/overview/units/50230000*")
    evaluator.shoot("overview-district", accessible=True)
    page.click(f"section:has(#h-behind) a:has-text('{PROJECT_CODE}') >> nth=0")
    page.wait_for_url("**/projects/*")
    evaluator.goto("/overview/strategy?lang=th")
    evaluator.shoot("overview-strategy", accessible=True)
    page.click("table.figures-table a >> nth=-1")
    page.wait_for_selector(f"[data-project='{PROJECT_CODE}']")
    evaluator.shoot("overview-strategy-node", accessible=True)
