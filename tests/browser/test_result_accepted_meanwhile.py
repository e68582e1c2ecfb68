"""The defect as a school clerk met it, at 360 px in Thai: a result form left open in one tab,
the result sent from another and accepted by the officer, then sent from the first tab. It went
back to "submitted" and into the review queue, the school never told it had been accepted. The
page is now refused for where the result stands (accepted), what was typed kept; sent again
from there, it is sent knowingly."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_journeys import (  # the suite's server, browser and signed-in tab
    Person,
    Server,
    axe,  # noqa: F401
    browser,  # noqa: F401
    person,  # noqa: F401
    server,  # noqa: F401
)
from tests.browser.test_stale_result import _open_result, _send

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _submits(site: Server, result_id: int) -> int:
    return int(
        site.scalar(
            "SELECT count(*) FROM audit_entry WHERE action = 'step_result.submit'"
            " AND object_id = :i",
            i=result_id,
        )
    )


def test_a_result_accepted_while_a_form_was_open_is_not_sent_back_unseen(
    person: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    result_id = _open_result(server)
    left_open: Person = person("school")
    other_tab: Person = person("school")
    for tab in (left_open, other_tab):
        tab.sign_in()
        tab.goto(f"/results/{result_id}")
    page = left_open.page
    page.set_viewport_size({"width": 360, "height": 740})

    _send(other_tab.page, "90", "ครบทุกกิจกรรม")
    other_tab.page.wait_for_selector("[data-testid=state] .badge.submitted")
    officer: Person = person("officer")
    officer.sign_in()
    officer.goto(f"/results/{result_id}")
    officer.page.click("form[data-action=accept] button[type=submit]")
    officer.page.wait_for_selector("[data-testid=state] .badge.accepted")

    _send(page, "50", "ส่งจากแท็บที่เปิดค้างไว้\nบรรทัดที่สอง")
    page.wait_for_selector("#result-form [data-error-summary]")
    summary = page.locator("#result-form [data-error-summary]").inner_text()
    assert "เปลี่ยนไประหว่างที่หน้านี้เปิดอยู่" in summary and "ตอนนี้รับรองแล้ว" in summary
    assert page.locator("[data-testid=state] .badge.accepted").count() == 1
    assert page.input_value("#completion") == "50"
    assert page.input_value("#narrative") == "ส่งจากแท็บที่เปิดค้างไว้\nบรรทัดที่สอง"
    assert page.locator("#result-form [data-error-summary] a[data-latest]").count() == 1
    # Beside it, what the officer accepted, marked as where it stands now; it may still be
    # sent over, so the button stays.
    facts = page.locator("[data-testid=facts]")
    assert facts.locator("[data-testid=changed]").count() == 1
    assert facts.locator("[data-testid=narrative]").inner_text() == "ครบทุกกิจกรรม"
    assert page.locator("#result-form button[type=submit]").is_enabled()
    assert page.locator("#result-form [data-testid=cannot-send]").count() == 0
    left_open.shoot("result-accepted-while-open")
    assert server.scalar("SELECT state FROM step_result WHERE id = :i", i=result_id) == "accepted"
    assert server.scalar("SELECT completion FROM step_result WHERE id = :i", i=result_id) == 90
    assert _submits(server, result_id) == 1

    # Told where it stands, the school may still send its figure: it is taken this time.
    page.click("#result-form button[type=submit]")
    page.wait_for_selector("[data-testid=state] .badge.submitted")
    assert server.scalar("SELECT completion FROM step_result WHERE id = :i", i=result_id) == 50
    assert _submits(server, result_id) == 2
    assert not left_open.errors and not other_tab.errors and not officer.errors
