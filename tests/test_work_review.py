"""The review queue: accept or return submitted results, one by one or in bulk, each item in
a savepoint of its own and answered per item."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.projects.models import ResultState, StepResult
from service.projects.queries import project_progress
from service.threads.models import Comment
from service.workflow import engine
from tests.conftest import csrf_token
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    school_result,
    user,
)


def _submit(session: Session, role: str, result: StepResult, completion: str = "100") -> None:
    engine.take(
        session,
        user(session, role),
        "step_result",
        result.id,
        "submit",
        {"completion": completion, "narrative": f"ทำแล้ว ({role})"},
    )


def _four_submitted(session: Session) -> list[StepResult]:
    """Two results submitted by the school, two by the officer (who then may not review them)."""
    by_school = [school_result(session, "5023077101", 3), school_result(session, "5023077101", 4)]
    # the division's own steps: an officer reports those, never a school's
    by_officer = [school_result(session, "50230700", 2), school_result(session, "50230700", 5)]
    for result in by_school:
        _submit(session, "school", result)
    for result in by_officer:
        _submit(session, "officer", result)
    session.commit()
    return by_school + by_officer


def test_bulk_accept_answers_per_item(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    results = _four_submitted(session)
    before = project_progress(session, demo_project(session).id)
    client = login_as("officer")
    page = client.get("/review").get_data(as_text=True)
    for result in results:
        assert f'data-result="{result.id}"' in page
    # The officer's own submissions show why they may not be accepted by them.
    assert "เจ้าหน้าที่คนอื่นต้องเป็นผู้ตรวจสอบ" in page  # the reason, in Thai
    response = client.post(
        "/review",
        data={
            "csrf_token": csrf_token(client, "/review?lang=en"),
            "action": "accept",
            "ids": [str(r.id) for r in results],
        },
    )
    assert response.status_code == 302
    flashed = client.get("/review?lang=en").get_data(as_text=True)
    assert "2 refused" in flashed
    for result in results[2:]:
        assert f"#{result.id} you submitted this result" in flashed
    session.expire_all()
    assert [r.state for r in results] == [ResultState.ACCEPTED] * 2 + [ResultState.SUBMITTED] * 2
    assert project_progress(session, demo_project(session).id) > before


def test_the_approver_accepts_what_the_officer_submitted(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    results = _four_submitted(session)
    client = login_as("approver")
    response = client.post(
        "/review",
        data={
            "csrf_token": csrf_token(client, "/review?lang=en"),
            "action": "accept",
            "ids": [str(r.id) for r in results[2:]],
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert all(r.state is ResultState.ACCEPTED for r in results[2:])


def test_return_one_with_a_reason_and_without_one(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    results = _four_submitted(session)
    client = login_as("officer")
    token = csrf_token(client, "/review")
    refused = client.post(
        "/review",
        data={"csrf_token": token, "single": f"return:{results[0].id}", "reason": "  "},
    )
    # A return needs the reason the school will read: asked at the field before anything is
    # taken (422), the result it was for ticked, nothing written.
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'class="error-summary"' in page and 'href="#reason"' in page
    assert 'id="reason" name="reason" rows="2" maxlength="5000" aria-invalid="true"' in page
    assert "กรุณาเขียนเหตุผลที่โรงเรียนจะได้อ่านก่อนส่งกลับ" in page and "ปฏิเสธ" not in page
    assert f'value="{results[0].id}" id="pick-{results[0].id}" checked' in page
    session.expire_all()
    assert results[0].state is ResultState.SUBMITTED
    # Ticked rows returned at once without a reason: the same, every one kept ticked.
    ticked = [str(results[2].id), str(results[3].id)]
    refused = client.post("/review", data={"csrf_token": token, "action": "return", "ids": ticked})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert all(f'value="{i}" id="pick-{i}" checked' in page for i in ticked)
    session.expire_all()
    assert results[2].state is ResultState.SUBMITTED and results[3].state is ResultState.SUBMITTED
    response = client.post(
        "/review",
        data={
            "csrf_token": token,
            "single": f"return:{results[0].id}",
            "reason": "ไม่มีหลักฐานการอบรม",
            # A row's button acts on its row only, whatever else is ticked.
            "ids": [str(results[1].id)],
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert results[0].state is ResultState.RETURNED
    assert results[0].review_reason == "ไม่มีหลักฐานการอบรม"
    assert results[1].state is ResultState.SUBMITTED
    # The school sees it among its returned steps, with the reason.
    client.post("/logout", data={"csrf_token": token})
    school_page = login_as("school").get("/school").get_data(as_text=True)
    returned = school_page.split('id="h-returned"')[1].split("</section>")[0]
    assert f'data-result="{results[0].id}"' in returned and "ไม่มีหลักฐานการอบรม" in returned


def test_the_queue_is_the_districts_only(login_as, client: FlaskClient, session: Session) -> None:  # type: ignore[no-untyped-def]
    _four_submitted(session)
    login_as("school")
    assert client.get("/review").status_code == 403
    token = csrf_token(client, "/school")
    assert client.post("/review", data={"csrf_token": token, "action": "accept"}).status_code == 403


def test_unknown_ids_are_refused_not_fatal(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    results = _four_submitted(session)
    client = login_as("officer")
    client.post(
        "/review",
        data={
            "csrf_token": csrf_token(client, "/review?lang=en"),
            "action": "accept",
            "ids": [str(results[0].id), "999999"],
        },
    )
    page = client.get("/review?lang=en").get_data(as_text=True)
    assert "1 refused" in page and "#999999" in page
    session.expire_all()
    assert results[0].state is ResultState.ACCEPTED


def test_an_officer_does_not_report_a_schools_result(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """An accepted school result was sent again by the district officer from its page: the
    school's figure and words were replaced, it went back to waiting for review, and the
    queue named the officer as its sender. The school's result is the school's to report."""
    result = school_result(session, "5023077101", 3)
    _submit(session, "school", result, completion="80")
    engine.take(session, user(session, "officer"), "step_result", result.id, "accept", {})
    session.commit()
    client = login_as("officer")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert "เฉพาะโรงเรียน" in page  # why they cannot send it, said on the page
    answer = client.post(
        f"/results/{result.id}",
        data={
            "csrf_token": csrf_token(client, f"/results/{result.id}"),
            "completion": "50",
            "narrative": "officer edits school result",
            "version": str(result.version),
        },
    )
    assert answer.status_code == 403
    session.expire_all()
    assert result.state is ResultState.ACCEPTED
    assert (result.completion, result.narrative) == (80, "ทำแล้ว (school)")


def test_the_queue_says_the_order_it_shows(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The queue said "oldest first" (เรียงจากที่ส่งก่อน) and listed a result sent on 7 Dec
    above results sent on 14 Nov: it puts the earliest planned end first, on purpose (a step
    past its end waits on the review to count). The page and the export now say so, and show
    each result's planned end beside the day it was sent."""
    later_step, earlier_step = (
        school_result(session, position=4),
        school_result(session, position=3),
    )
    assert earlier_step.due_on < later_step.due_on
    _submit(session, "school", later_step)
    _submit(session, "school", earlier_step)
    later_step.submitted_at = datetime(2026, 11, 14, 3, tzinfo=UTC)
    earlier_step.submitted_at = datetime(2026, 12, 7, 3, tzinfo=UTC)
    session.commit()
    client = login_as("officer")
    page = client.get("/review").get_data(as_text=True)
    assert "เรียงจากที่ครบกำหนดเสร็จตามแผนก่อน" in page and "เรียงจากที่ส่งก่อน" not in page
    assert page.index(f'data-result="{earlier_step.id}"') < page.index(
        f'data-result="{later_step.id}"'
    )
    row = page.split(f'data-result="{earlier_step.id}"')[1].split("</tr>")[0]
    assert 'data-label="กำหนดเสร็จตามแผน"' in row
    english = client.get("/review?lang=en").get_data(as_text=True)
    assert "the earliest planned end first" in english and "oldest first" not in english
    lines = client.get("/review?format=csv").get_data(as_text=True).splitlines()
    assert "Planned end" in lines[0]  # in the language chosen last
    ids = [line.split(",")[0] for line in lines[1:]]
    assert ids.index(str(earlier_step.id)) < ids.index(str(later_step.id))


def test_a_reason_given_with_an_acceptance_is_kept_as_its_note(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A reason typed in the box and รับรองผล pressed was accepted and dropped: it is the
    acceptance's note now, in the result's thread (as a return's reason is) and its history."""
    result = school_result(session, position=3)
    _submit(session, "school", result)
    session.commit()
    client = login_as("officer")
    page = client.get("/review").get_data(as_text=True)
    assert "บันทึกไว้เป็นหมายเหตุเมื่อรับรองผล" in page  # the box says what it is for
    response = client.post(
        "/review",
        data={
            "csrf_token": csrf_token(client, "/review"),
            "single": f"accept:{result.id}",
            "reason": "  ดีมาก ขอให้แนบภาพกิจกรรมครั้งหน้าด้วย ",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert result.state is ResultState.ACCEPTED and result.review_reason == ""
    note = session.scalars(
        select(Comment).where(
            Comment.subject_type == "step_result", Comment.subject_id == result.id
        )
    ).one()
    assert (note.body, note.opened_by) == ("ดีมาก ขอให้แนบภาพกิจกรรมครั้งหน้าด้วย", "step_result.accept")
    accepted = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "step_result.accept", AuditEntry.object_id == result.id
        )
    ).one()
    assert accepted.reason == "ดีมาก ขอให้แนบภาพกิจกรรมครั้งหน้าด้วย"
    shown = client.get(f"/results/{result.id}").get_data(as_text=True)
    thread = shown.split(f'id="thread-step_result-{result.id}"')[1]
    assert "ดีมาก ขอให้แนบภาพกิจกรรมครั้งหน้าด้วย" in thread
    assert "หมายเหตุการรับรองผล" in thread and "เหตุผลที่ส่งกลับ" not in thread
    # Accepted without a word: nothing is added to the thread. The result page's own accept
    # offers the note too, without insisting on it.
    other = school_result(session, position=4)
    _submit(session, "school", other)
    session.commit()
    form = (
        client.get(f"/results/{other.id}")
        .get_data(as_text=True)
        .split('data-action="accept"')[1]
        .split("</form>")[0]
    )
    assert 'name="reason"' in form and "required" not in form
    client.post(
        "/review",
        data={"csrf_token": csrf_token(client, "/review"), "single": f"accept:{other.id}"},
    )
    session.expire_all()
    assert other.state is ResultState.ACCEPTED
    assert not session.scalars(
        select(Comment).where(Comment.subject_type == "step_result", Comment.subject_id == other.id)
    ).all()


def test_an_accepted_result_says_what_sending_it_again_does(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A school may report an accepted result again (a step done further since): its page
    said nothing of what that does, and a clerk sent 50 over an accepted 100 unaware."""
    result = school_result(session, "5023077101", 3)
    _submit(session, "school", result, completion="100")
    session.commit()
    client = login_as("school")
    assert 'data-testid="resend-note"' not in client.get(f"/results/{result.id}").get_data(
        as_text=True
    )
    engine.take(session, user(session, "officer"), "step_result", result.id, "accept", {})
    session.commit()
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    note = page.split('data-testid="resend-note">')[1].split("</p>")[0]
    assert "เขตรับรองผลนี้แล้ว" in note and "(100.00)" in note


def test_a_result_resent_while_the_queue_was_open_is_not_accepted_unseen(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """The queue was drawn with the school's 100 %; another officer returned it and the
    school sent 30 % meanwhile. Accepting from the old page, ticked or by its row's button,
    takes nothing: what the officer saw is not what he would accept. The rest of a bulk
    decision is taken."""
    changed, unchanged = school_result(session, position=3), school_result(session, position=4)
    for result in (changed, unchanged):
        _submit(session, "school", result)
    session.commit()
    client = login_as("officer")
    page = client.get("/review").get_data(as_text=True)
    drawn = {
        r.id: re.search(rf'name="version-{r.id}" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
        for r in (changed, unchanged)
    }
    engine.take(
        session,
        user(session, "approver"),
        "step_result",
        changed.id,
        "return",
        {"reason": "ขอหลักฐาน"},
    )
    _submit(session, "school", changed, completion="30")
    session.commit()
    for form in (
        {"action": "accept", "ids": [str(changed.id), str(unchanged.id)]},
        {"single": f"accept:{changed.id}"},
    ):
        response = client.post(
            "/review",
            data={
                "csrf_token": csrf_token(client, "/review?lang=en"),
                **form,
                **{f"version-{ident}": version for ident, version in drawn.items()},
            },
        )
        assert response.status_code == 302
        flashed = client.get("/review?lang=en").get_data(as_text=True)
        assert f"#{changed.id} " in flashed and "changed while your page was open" in flashed
    session.expire_all()
    assert changed.state is ResultState.SUBMITTED and changed.completion == 30
    assert unchanged.state is ResultState.ACCEPTED
