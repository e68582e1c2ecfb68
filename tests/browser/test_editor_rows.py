"""The plan editor's rows in a real Chromium: "Add a step" adds rows in place, the weights'
total follows the typing, and one save stores the whole plan."""

from __future__ import annotations

from typing import Any

from tests.browser.test_journeys import (  # the suite's server, browser and signed-in tab
    Server,
    axe,  # noqa: F401
    browser,  # noqa: F401
    person,  # noqa: F401
    server,  # noqa: F401
)

STEPS = [
    ("ขออนุมัติโครงการ", "1/10/2566", "31/10/2566"),
    ("ประชุมชี้แจงโรงเรียน", "1/11/2566", "30/11/2566"),
    ("ดำเนินกิจกรรมในโรงเรียน", "1/12/2566", "31/3/2567"),
    ("นิเทศติดตาม", "1/4/2567", "31/7/2567"),
    ("สรุปและรายงานผล", "1/8/2567", "30/9/2567"),
]


def test_add_two_rows_watch_the_total_and_save_once(person: Any, server: Server) -> None:  # noqa: F811
    officer = person("officer")
    officer.sign_in()
    page = officer.goto("/projects/new?lang=en")
    page.fill("#code", "50230000-9200")
    page.select_option("#fiscal_year_id", label="2566")  # not today's year: none is chosen
    page.fill("#name", "โครงการห้าขั้นตอน")
    assert page.locator("#steps-table tbody tr").count() == 3
    page.click("#add-step")
    page.click("#add-step")
    assert page.locator("#steps-table tbody tr").count() == 5
    assert page.evaluate("document.activeElement.id") == "step-5-name"
    for n, (name, start, end) in enumerate(STEPS, start=1):
        page.fill(f"#step-{n}-name", name)
        page.fill(f"#step-{n}-weight", "20")
        page.fill(f"#step-{n}-start", start)
        page.fill(f"#step-{n}-end", end)
        assert page.text_content("#weights-total") == str(20 * n)
    assert page.get_attribute("#weights-total", "aria-live") == "polite"
    assert "bad" not in (page.get_attribute("#weights-total", "class") or "")
    # Typed with Thai or full-width digits the total counts them, as the server reads them.
    page.fill("#step-5-weight", "๑๐")
    assert page.text_content("#weights-total") == "90"
    page.fill("#step-5-weight", "２０")
    assert page.text_content("#weights-total") == "100"
    # Objectives: two spare entries, a third added in place, the second removed.
    page.fill("#objective-1", "เพื่อส่งเสริมการอ่าน")
    page.fill("#objective-2", "ข้อที่จะลบ")
    page.click("[data-add=objectives]")
    assert page.evaluate("document.activeElement.id") == "objective-3"
    page.fill("#objective-3", "เพื่อพัฒนาครู")
    page.click("#objectives [data-item]:nth-child(2) [data-remove-item]")
    assert not page.is_visible("#objective-2")
    page.click("[data-add=targets]")
    page.fill("#target-text-3", "นักเรียน 500 คน")
    officer.shoot("editor-rows", accessible=True)
    page.click("#project-form button[type=submit]")
    page.wait_for_url("**/projects/*/edit")
    project_id = server.scalar("SELECT id FROM project WHERE code = '50230000-9200'")
    names = [
        server.scalar(
            "SELECT name FROM plan_step WHERE project_id = :p AND position = :n", p=project_id, n=n
        )
        for n in range(1, 6)
    ]
    assert names == [name for name, _s, _e in STEPS]
    objectives = [
        server.scalar(
            "SELECT text FROM project_objective WHERE project_id = :p ORDER BY position"
            " LIMIT 1 OFFSET :n",
            p=project_id,
            n=n,
        )
        for n in range(3)
    ]
    assert objectives == ["เพื่อส่งเสริมการอ่าน", "เพื่อพัฒนาครู", None]
    targets = server.scalar(
        "SELECT count(*) FROM project_target WHERE project_id = :p", p=project_id
    )
    assert targets == 1
    # A stored step ticked for removal leaves the total at once.
    page.check("#step-2-remove")
    assert page.text_content("#weights-total") == "80"
    assert not officer.errors, officer.errors
