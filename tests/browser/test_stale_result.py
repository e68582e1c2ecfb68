"""A school's result sent from a page left open after it was sent from another tab: the
refusal says it was sent already, the page's state badge shows where it stands now (it kept
saying "not started" beside the refusal, the script answering without reloading), what was
typed stays in the form, a link leads to the page as it is now, and nothing is recorded twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_journeys import (  # the suite's server, browser and signed-in tab
    PROJECT_CODE,
    Person,
    Server,
    axe,  # noqa: F401
    browser,  # noqa: F401
    person,  # noqa: F401
    server,  # noqa: F401
)

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _open_result(site: Server) -> int:
    result_id = site.scalar(  # the demo school's first result of the demo project still open
        "SELECT r.id FROM step_result r JOIN plan_step s ON s.id = r.step_id "
        "JOIN project p ON p.id = s.project_id JOIN org_unit u ON u.id = r.unit_id "
        "WHERE p.code = :c AND u.code = '5023077101' "
        "AND r.state IN ('not_started', 'in_progress', 'returned') ORDER BY s.position",
        c=PROJECT_CODE,
    )
    assert result_id, "the demo school has no open result"
    return int(result_id)


def _send(page: Any, completion: str, narrative: str) -> None:
    page.fill("#completion", completion)
    page.fill("#narrative", narrative)
    page.click("#result-form button[type=submit]")


def test_a_result_sent_again_from_a_stale_page_shows_where_it_stands(
    person: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    result_id = _open_result(server)
    first: Person = person("school")
    stale: Person = person("school")
    for tab in (first, stale):
        tab.sign_in()
        tab.goto(f"/results/{result_id}")
    stale.page.set_viewport_size({"width": 360, "height": 740})

    _send(first.page, "40", "ประชุมครูครบแล้ว")
    first.page.wait_for_url(f"**/results/{result_id}")
    first.page.wait_for_selector("[data-testid=state] .badge.submitted")

    page = stale.page
    _send(page, "90", "ข้อความจากแท็บที่เปิดค้างไว้")
    page.wait_for_selector("#result-form [data-error-summary]")
    summary = page.locator("#result-form [data-error-summary]").inner_text()
    assert "ส่งตรวจสอบแล้ว" in summary
    # The badge beside it says the same, not the state the page was opened in.
    assert page.locator("[data-testid=state]").inner_text().strip() == "ส่งตรวจสอบแล้ว"
    assert page.locator("[data-testid=state] .badge.submitted").count() == 1
    # What was typed is still there, and a link shows the result as it is now.
    assert page.input_value("#completion") == "90"
    assert page.input_value("#narrative") == "ข้อความจากแท็บที่เปิดค้างไว้"
    latest = page.locator("#result-form [data-error-summary] a[data-latest]")
    assert latest.inner_text().strip() == "ดูสถานะล่าสุด"
    stale.shoot("result-sent-from-a-stale-page")
    latest.click()
    page.wait_for_selector("[data-testid=state] .badge.submitted")
    assert "40.00" in page.locator("main").inner_text()
    assert not first.errors and not stale.errors

    assert server.scalar("SELECT completion FROM step_result WHERE id = :i", i=result_id) == 40
    assert (
        server.scalar(
            "SELECT count(*) FROM audit_entry WHERE action = 'step_result.submit'"
            " AND object_id = :i",
            i=result_id,
        )
        == 1
    )


def test_a_result_sent_after_signing_out_elsewhere_says_to_sign_in_again(
    person: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    """Signed out in another tab, the script got the page-out-of-date answer (400) and said
    "the upload failed, try again", which never works. It now shows the server's reason, with
    the page opened afresh in a new tab, what was typed still here."""
    result_id = _open_result(server)
    before = server.scalar("SELECT state FROM step_result WHERE id = :i", i=result_id)
    school: Person = person("school")
    school.sign_in()
    school.goto(f"/results/{result_id}")
    page = school.page
    page.set_viewport_size({"width": 360, "height": 740})
    other = school.context.new_page()
    other.goto(server.url + "/home")
    other.click("form[action='/logout'] button[type=submit]")
    other.wait_for_url("**/login**")
    other.close()

    _send(page, "60", "ส่งหลังจากออกจากระบบในอีกแท็บ")
    page.wait_for_selector("#result-form [data-error-summary]")
    summary = page.locator("#result-form [data-error-summary]")
    # The server's own words (this page is out of date: signed out since it opened), not
    # "the upload failed, try again", and the page opened afresh in a new tab.
    assert "ออกจากระบบหลังจากเปิดหน้านี้" in summary.inner_text()
    assert "อัปโหลดไม่สำเร็จ" not in summary.inner_text()
    reopen = summary.locator("a[data-latest]")
    assert reopen.inner_text().strip() == "เปิดหน้านี้อีกครั้ง (แท็บใหม่)"
    assert reopen.get_attribute("href") == f"/results/{result_id}"
    assert reopen.get_attribute("target") == "_blank"
    assert page.input_value("#narrative") == "ส่งหลังจากออกจากระบบในอีกแท็บ"
    school.shoot("result-sent-after-signing-out")
    assert server.scalar("SELECT state FROM step_result WHERE id = :i", i=result_id) == before
