"""A school's result sent from a page left open after it was sent from another tab: the
refusal says it was sent already, the page shows where it stands now (it kept saying "not
started" beside the refusal, the script answering without reloading; then it took the badge
but kept the old figures and an active button that could only be refused again, and beside it
one to start the result, refused when pressed), what was typed stays in the form to copy, a
link opens the page as it is now in a new tab, and nothing is recorded twice.
"""

from __future__ import annotations

import re
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
from tests.conftest import DEMO_PASSWORDS

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
    start = f"[data-testid=actions] form[action='/actions/step_result/{result_id}/start']"
    assert page.locator(start).count() == 1  # drawn while the result was not started
    _send(page, "90", "ข้อความจากแท็บที่เปิดค้างไว้")
    page.wait_for_selector("#result-form [data-error-summary]")
    summary = page.locator("#result-form [data-error-summary]").inner_text()
    # Refused for the version the page was drawn at: it changed while the page was open.
    assert "เปลี่ยนไประหว่างที่หน้านี้เปิดอยู่" in summary and "ส่งตรวจสอบแล้ว" in summary
    # It cannot be sent from here, and says so: it no longer invites sending again.
    assert "ส่งจากหน้านี้ไม่ได้" in summary and "ส่งอีกครั้ง" not in summary
    # The badge beside it says the same, not the state the page was opened in.
    assert page.locator("[data-testid=state]").inner_text().strip() == "ส่งตรวจสอบแล้ว"
    assert page.locator("[data-testid=state] .badge.submitted").count() == 1
    # The figures and narrative beside it are the other tab's, as the server has them now,
    # marked as such: not the ones the page was opened with.
    facts = page.locator("[data-testid=facts]")
    assert "เปลี่ยนไประหว่างที่หน้านี้เปิดอยู่" in facts.locator("[data-testid=changed]").inner_text()
    assert facts.locator("[data-testid=narrative]").inner_text() == "ประชุมครูครบแล้ว"
    assert "40.00" in facts.inner_text()
    # It cannot be sent from here now: no button that could only be refused again, and why.
    button = page.locator("#result-form button[type=submit]")
    assert button.is_disabled()
    # ...and looks so: muted, no pointer (it kept the brand's colour and the hand).
    looks = button.evaluate(
        "b => { const s = getComputedStyle(b); return [s.cursor, s.backgroundColor, s.color]; }"
    )
    assert looks == ["not-allowed", "rgb(228, 232, 236)", "rgb(77, 88, 102)"]
    why = page.locator("#result-form [data-testid=cannot-send]").inner_text()
    assert "ผลนี้อยู่ในสถานะ ส่งตรวจสอบแล้ว" in why and "คัดลอก" in why
    # Nor any other that could only fail: it was offered to start it still, refused when
    # pressed, and Back lost what was typed. What it offers now is what the server offers.
    assert page.locator(start).count() == 0
    assert page.locator("[data-testid=actions] form").count() == 0
    # What was typed is still there to copy, and a link shows the result as it is now.
    assert page.input_value("#completion") == "90"
    assert page.input_value("#narrative") == "ข้อความจากแท็บที่เปิดค้างไว้"
    # ...kept to copy, and looking so; no file is chosen for a send that cannot happen.
    assert page.locator("#narrative").evaluate("t => getComputedStyle(t).borderStyle") == "dashed"
    assert all(f.is_disabled() for f in page.locator("#result-form input[type=file]").all())
    latest = page.locator("#result-form [data-error-summary] a[data-latest]")
    assert latest.inner_text().strip() == "ดูสถานะล่าสุด (แท็บใหม่)"
    stale.shoot("result-sent-from-a-stale-page", accessible=True)
    # Followed, it opens in a new tab: this one keeps what was typed.
    with stale.context.expect_page() as opened:
        latest.click()
    now = opened.value
    now.wait_for_selector("[data-testid=state] .badge.submitted")
    assert "40.00" in now.locator("main").inner_text()
    assert page.input_value("#narrative") == "ข้อความจากแท็บที่เปิดค้างไว้"
    # Enter in a field sends nothing either.
    page.press("#completion", "Enter")
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


def test_a_result_sent_after_signing_out_elsewhere_is_sent_once_signed_in_again(
    person: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    """Signed out in another tab, the page says so and to sign in again in a new tab, then
    send from here. Sent again then, it was refused all the same (its CSRF token was the old
    session's: "this page is out of date"): the script now fetches this session's token and
    sends once more. A token still refused is said as the server says it."""
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
    assert "คุณออกจากระบบแล้ว" in summary.inner_text()
    assert "อัปโหลดไม่สำเร็จ" not in summary.inner_text()
    sign_in = summary.locator("a[data-latest]")
    assert sign_in.inner_text().strip() == "เข้าสู่ระบบ (แท็บใหม่)"
    assert sign_in.get_attribute("target") == "_blank"
    assert page.input_value("#narrative") == "ส่งหลังจากออกจากระบบในอีกแท็บ"
    school.shoot("result-sent-after-signing-out")
    assert server.scalar("SELECT state FROM step_result WHERE id = :i", i=result_id) == before

    # Signed in again in a new tab, as the page asked.
    again = school.context.new_page()
    again.goto(server.url + "/login")
    again.fill("#email", "school@demo.tidtam.local")
    again.fill("#password", DEMO_PASSWORDS["school@demo.tidtam.local"])
    again.click("form.card button[type=submit]")
    again.wait_for_url(re.compile(r"/(home|school)$"))
    again.close()

    # A token that is refused too (as if the session changed once more): said honestly, and
    # nothing sent.
    page.route(
        "**/csrf-token",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body='{"csrf_token": "stale"}'
        ),
    )
    page.click("#result-form button[type=submit]")
    page.wait_for_selector(
        f"#result-form [data-error-summary] a[target=_blank][href$='/results/{result_id}']"
    )
    assert "หน้านี้เก่าแล้ว" in page.locator("#result-form [data-error-summary]").inner_text()
    assert server.scalar("SELECT state FROM step_result WHERE id = :i", i=result_id) == before
    page.unroute("**/csrf-token")

    # Sent from here again, it is sent with this session's token, what was typed and all.
    page.click("#result-form button[type=submit]")
    page.wait_for_selector("[data-testid=state] .badge.submitted")
    assert "60.00" in page.locator("main").inner_text()
    assert "ส่งหลังจากออกจากระบบในอีกแท็บ" in page.locator("main").inner_text()
    assert not school.errors
    assert server.scalar("SELECT state FROM step_result WHERE id = :i", i=result_id) == "submitted"
    assert (
        server.scalar(
            "SELECT count(*) FROM audit_entry WHERE action = 'step_result.submit'"
            " AND object_id = :i",
            i=result_id,
        )
        == 1
    )
