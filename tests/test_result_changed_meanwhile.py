"""A result form left open is drawn for one version of the result: sent after the result
changed (another tab sent it, the district accepted it), it is refused with 409 and where the
result stands now, what was typed kept; it no longer sent an accepted result back to the
review queue unseen. A form that does not say what it was drawn for is taken as before."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.projects.models import ResultState, StepResult
from service.workflow.engine import take
from tests.conftest import csrf_token
from tests.work_data import (
    PNG,
    audited,
    in_app_context,  # noqa: F401
    school_result,
    user,
)

ACCEPTED_TH = "รับรองแล้ว"


def _returned(session: Session) -> StepResult:
    result = school_result(session, position=4)
    result.state, result.review_reason = ResultState.RETURNED, "แนบรูปกิจกรรมด้วย"
    result.completion = Decimal("30.00")
    result.submitted_at = result.reviewed_at = datetime.now(UTC)
    session.commit()
    return result


def _drawn_version(page: str) -> str:
    found = re.search(r'name="version" value="([0-9]+)"', page)
    assert found, "the result form carries no version"
    return found.group(1)


def _send(client: FlaskClient, result: StepResult, completion: str, narrative: str, **extra: str):  # type: ignore[no-untyped-def]
    data = {
        "csrf_token": csrf_token(client, "/school"),
        "completion": completion,
        "narrative": narrative,
        "files": [(io.BytesIO(PNG), "photo.png")],
        **{k: v for k, v in extra.items() if k != "xhr"},
    }
    headers = {"X-Requested-With": "XMLHttpRequest"} if extra.get("xhr") else {}
    return client.post(
        f"/results/{result.id}", data=data, content_type="multipart/form-data", headers=headers
    )


def _accepted_by_the_officer(session: Session, result: StepResult) -> None:
    take(session, user(session, "officer"), "step_result", result.id, "accept")
    session.commit()


def test_a_form_drawn_before_the_result_was_accepted_is_refused_and_keeps_the_input(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    result = _returned(session)
    client = login_as("school")
    tab_a = _drawn_version(client.get(f"/results/{result.id}").get_data(as_text=True))
    tab_b = _drawn_version(client.get(f"/results/{result.id}").get_data(as_text=True))
    assert _send(client, result, "90", "ครบทุกกิจกรรม", version=tab_b).status_code == 302
    _accepted_by_the_officer(session, result)

    typed = "ส่งจากแท็บที่เปิดค้าง\nบรรทัดที่สอง"
    response = _send(client, result, "50", typed, version=tab_a)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    # Where it stands now, said in the reason and by the badge, and what was typed kept.
    flashed = page.split('class="flash error"')[1].split("</p>")[0]
    assert "เปลี่ยนไประหว่างที่หน้านี้เปิดอยู่" in flashed and f"ตอนนี้{ACCEPTED_TH}" in flashed
    assert f'<span class="badge accepted">{ACCEPTED_TH}</span>' in page
    assert 'value="50"' in page and typed in page
    assert "ไฟล์ที่เลือกไว้จะไม่ถูกเก็บ" in page  # files are chosen again
    # The refused page's form now stands for the accepted result.
    assert _drawn_version(page) == str(_current(session, result).version)
    session.expire_all()
    assert result.state is ResultState.ACCEPTED
    assert result.completion == Decimal("90.00") and result.accepted_completion == Decimal("90.00")
    assert audited(session, "step_result.submit", result.id) == 1
    assert audited(session, "evidence.upload", result.id) == 1


def test_the_upload_script_is_told_where_the_result_stands_now(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    result = _returned(session)
    client = login_as("school")
    tab_a = _drawn_version(client.get(f"/results/{result.id}").get_data(as_text=True))
    assert _send(client, result, "90", "ครบทุกกิจกรรม", version=tab_a).status_code == 302
    _accepted_by_the_officer(session, result)

    refused = _send(client, result, "50", "จากแท็บเก่า", version=tab_a, xhr="1")
    assert refused.status_code == 409 and refused.json is not None
    assert refused.json["state"] == {"value": "accepted", "name": ACCEPTED_TH}
    assert ACCEPTED_TH in refused.json["error"]
    assert refused.json["latest"] == f"/results/{result.id}"
    # What was accepted, to show in place of what the page showed; it may be sent over.
    assert (
        "ครบทุกกิจกรรม" in refused.json["facts"] and 'data-testid="changed"' in refused.json["facts"]
    )
    assert refused.json["cannot_send"] is None
    assert "ส่งอีกครั้งหากยังต้องการส่ง" in refused.json["error"]  # it may be sent over
    current = _current(session, result).version
    assert refused.json["version"] == current
    session.expire_all()
    assert result.state is ResultState.ACCEPTED

    # Sent again for the version it was told of, it is sent knowingly, and taken.
    again = _send(client, result, "50", "จากแท็บเก่า", version=str(current), xhr="1")
    assert again.status_code == 200
    session.expire_all()
    assert result.state is ResultState.SUBMITTED and result.completion == Decimal("50.00")


def test_what_was_typed_is_shown_when_the_result_cannot_be_sent_now(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """Sent from another tab meanwhile, the result waits for review: no form to keep the
    input in, so it is shown to copy."""
    result = _returned(session)
    client = login_as("school")
    tab_a = _drawn_version(client.get(f"/results/{result.id}").get_data(as_text=True))
    assert _send(client, result, "90", "ครบทุกกิจกรรม", version=tab_a).status_code == 302

    response = _send(client, result, "55", "ข้อความที่ยังไม่ได้ส่ง", version=tab_a)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'id="result-form"' not in page
    flashed = page.split('class="flash error"')[1].split("</p>")[0]
    assert "ส่งจากหน้านี้ไม่ได้" in flashed and "ส่งอีกครั้ง" not in flashed
    typed = page.split('data-testid="typed"')[1].split("</div>")[0]
    assert "55" in typed and "ข้อความที่ยังไม่ได้ส่ง" in typed
    session.expire_all()
    assert result.completion == Decimal("90.00")


def test_a_form_that_does_not_say_what_it_was_drawn_for_is_taken_as_before(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """Pages drawn before this release, and scripts posting the form themselves, send no
    version: the workflow alone decides, as it did (an accepted result may be sent again)."""
    result = _returned(session)
    client = login_as("school")
    assert _send(client, result, "90", "ครบทุกกิจกรรม").status_code == 302
    _accepted_by_the_officer(session, result)
    assert _send(client, result, "95", "เพิ่มเติม").status_code == 302
    session.expire_all()
    assert result.state is ResultState.SUBMITTED and result.completion == Decimal("95.00")


def _current(session: Session, result: StepResult) -> StepResult:
    session.expire_all()
    found = session.get(StepResult, result.id)
    assert found is not None
    return found


def test_a_tab_refused_for_a_result_sent_meanwhile_no_longer_offers_to_start_it(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """Drawn while the result was not started, the page offers to start it; sent from another
    tab meanwhile, it can no longer be started (pressed, it was refused and Back lost what
    was typed). The script's answer carries what may be done now, to show in place of it."""
    result = school_result(session, position=4)
    assert result.state is ResultState.NOT_STARTED
    client = login_as("school")
    drawn = client.get(f"/results/{result.id}").get_data(as_text=True)
    start = f'action="/actions/step_result/{result.id}/start"'
    assert start in drawn.split('data-testid="actions"')[1]
    tab_a = _drawn_version(drawn)
    assert _send(client, result, "40", "ประชุมครูครบแล้ว", version=tab_a).status_code == 302

    refused = _send(client, result, "90", "จากแท็บเก่า", version=tab_a, xhr="1")
    assert refused.status_code == 409 and refused.json is not None
    assert refused.json["cannot_send"]
    # Nor does the reason invite sending again: it cannot be sent from here.
    assert "ส่งตรวจสอบแล้ว" in refused.json["error"] and "ส่งจากหน้านี้ไม่ได้" in refused.json["error"]
    assert "ส่งอีกครั้ง" not in refused.json["error"]
    actions = refused.json["actions"]
    assert 'data-testid="actions"' in actions and start not in actions
    assert "/actions/step_result/" not in actions  # nothing else the school may do with it now
    # Its files are offered as they stand now: the other tab's, still to withdraw or replace.
    evidence = refused.json["evidence"]
    assert 'data-testid="evidence"' in evidence and "photo.png" in evidence
    assert "/withdraw" in evidence and "/replace" in evidence
