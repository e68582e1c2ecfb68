"""Conversations on the work: a thread under a step result, allocation, installment, evaluation
and project, seen by exactly those who see the work; files checked as evidence is; @mentions
told through the outbox; edits kept, nothing deleted; a return opens the thread with its
reason; the API says the same as the pages."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry, OutboxEvent
from service.budget.models import Allocation, AllocationState
from service.core.db import db
from service.evaluations.models import Evaluation, EvaluationState
from service.notifications.messages import describe, summary
from service.notifications.recipients import event_candidates
from service.org.models import Role, User
from service.org.operations import create_user, grant_role
from service.projects.models import ResultState
from service.threads.models import Comment, CommentAttachment, CommentMention, CommentRevision
from service.threads.operations import add_comment, edit_comment
from service.workflow import engine
from tests.api_support import headers_for
from tests.conftest import csrf_token, login
from tests.work_data import (
    PDF,
    PNG,
    demo_project,
    in_app_context,  # noqa: F401
    school_result,
    unit,
    user,
)


def _post_comment(
    client: FlaskClient, path: str, body: str, *, files: Any = (), mentions: Any = ()
) -> Any:
    return client.post(
        path,
        data={
            "csrf_token": csrf_token(client, "/school"),
            "body": body,
            "next": "/school",
            "mentions": [str(m) for m in mentions],
            "files": [(io.BytesIO(content), name) for content, name in files],
        },
        content_type="multipart/form-data",
    )


def _told(session: Session, event: OutboxEvent) -> set[int]:
    candidates = event_candidates([event.id], [event.kind])
    assert candidates is not None
    return {row.recipient_id for row in session.execute(candidates)}


def _kok_school(session: Session) -> None:
    """A school user of โรงเรียนวัดกก (the same network, another school)."""
    other = create_user(
        session, email="kok@demo.tidtam.local", name="ครูโรงเรียนวัดกก", password="kok-school-2566"
    )
    grant_role(session, other, Role.SCHOOL, unit(session, "5023077103"))
    session.commit()


def test_a_school_asks_with_a_file_and_the_officer_it_mentions_is_told(
    session: Session, client: FlaskClient, app: Any
) -> None:
    result = school_result(session)
    officer, school = user(session, "officer"), user(session, "school")
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert 'data-thread="step_result-' in page
    # Who may be told is fetched when the reader opens the list: the officer sees the result,
    # the school itself is not offered.
    assert f'data-people="/threads/step_result/{result.id}/people"' in page
    people = client.get(f"/threads/step_result/{result.id}/people").get_data(as_text=True)
    assert officer.name in people and school.name not in people
    assert f'name="mentions" value="{officer.id}"' in people
    # The conversation's own page lists them with the form (no script needed).
    assert officer.name in client.get(f"/threads/step_result/{result.id}").get_data(as_text=True)

    response = _post_comment(
        client,
        f"/threads/step_result/{result.id}",
        "ขอขยายเวลาส่งหลักฐาน 3 วัน ได้ไหมคะ",
        files=[(PDF, "หนังสือขอขยายเวลา.pdf")],
        mentions=[officer.id],
    )
    assert response.status_code == 302
    comment = session.scalars(select(Comment).where(Comment.subject_id == result.id)).one()
    assert response.headers["Location"].endswith(f"/school#comment-{comment.id}")
    assert comment.author_id == school.id and comment.subject_type == "step_result"
    attachment = session.scalars(select(CommentAttachment)).one()
    assert attachment.original_name == "หนังสือขอขยายเวลา.pdf"
    assert attachment.content_type == "application/pdf"
    assert [m.user_id for m in session.scalars(select(CommentMention))] == [officer.id]

    event = session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "comment.mention")).one()
    assert event.object_id == comment.id
    assert _told(session, event) == {officer.id}
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "comment.add")).one()
    assert (audit.object_type, audit.object_id) == ("step_result", result.id)
    assert audit.changes["mentions"] == [officer.id]

    with app.test_request_context():
        words = describe(session, "comment", comment.id, event.payload, "th", "comment.mention")
        line = summary("comment.mention", event.payload, words, "th")
        english = summary(
            "comment.mention",
            event.payload,
            describe(session, "comment", comment.id, event.payload, "en", "comment.mention"),
            "en",
        )
    assert line.startswith(f"{school.name} กล่าวถึงท่านในความเห็นเรื่องผลการดำเนินงานขั้นตอน")
    assert "ขอขยายเวลาส่งหลักฐาน" in line
    assert words["link"].endswith(f"/results/{result.id}#comment-{comment.id}")
    assert english.startswith(f"{school.name} mentioned you in a comment on the result of")

    # The officer reads it on the result page, with the file to download.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/school")})
    login(client, "officer@demo.tidtam.local", "demo-officer-2566")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert "ขอขยายเวลาส่งหลักฐาน 3 วัน" in page
    download = client.get(f"/comments/files/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()


def test_the_thread_is_seen_only_by_who_sees_the_work(
    session: Session, client: FlaskClient
) -> None:
    result = school_result(session)
    comment, _written = add_comment(
        session, user(session, "school"), "step_result", result.id, "เอกสารครบแล้วค่ะ"
    )
    session.commit()
    _kok_school(session)
    login(client, "kok@demo.tidtam.local", "kok-school-2566")
    assert client.get(f"/threads/step_result/{result.id}").status_code == 404
    assert client.get(f"/threads/step_result/{result.id}/people").status_code == 404
    assert _post_comment(client, f"/threads/step_result/{result.id}", "แอบดู").status_code == 404
    token = csrf_token(client, "/school")
    assert (
        client.post(f"/comments/{comment.id}/withdraw", data={"csrf_token": token}).status_code
        == 404
    )
    assert "เอกสารครบแล้วค่ะ" not in client.get(f"/results/{result.id}").get_data(as_text=True)


def test_only_people_who_see_the_work_can_be_mentioned(
    session: Session, client: FlaskClient
) -> None:
    result = school_result(session)
    _kok_school(session)
    kok_user = session.scalars(select(User).where(User.email == "kok@demo.tidtam.local")).one()
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert kok_user.name not in page
    refused = _post_comment(
        client, f"/threads/step_result/{result.id}", "ถึงครูวัดกก", mentions=[kok_user.id]
    )
    assert refused.status_code == 422
    assert "ถึงครูวัดกก" in refused.get_data(as_text=True)  # the draft is kept
    assert session.scalar(select(func.count()).select_from(Comment)) == 0

    # "@officer" in the text names the officer (who sees it); "@kok" names nobody here.
    response = _post_comment(client, f"/threads/step_result/{result.id}", "@officer ช่วยดูด้วยค่ะ @kok")
    assert response.status_code == 302
    mentioned = set(session.scalars(select(CommentMention.user_id)))
    assert mentioned == {user(session, "officer").id}


def test_files_are_checked_as_evidence_is(session: Session, client: FlaskClient) -> None:
    result = school_result(session)
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    refused = _post_comment(
        client, f"/threads/step_result/{result.id}", "รูปค่ะ", files=[(PNG, "รูป.pdf")]
    )
    assert refused.status_code == 422
    assert "รูป.pdf" in refused.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Comment)) == 0
    assert session.scalar(select(func.count()).select_from(CommentAttachment)) == 0


def test_an_edit_keeps_the_earlier_wording_and_a_withdrawal_keeps_the_comment(
    session: Session, client: FlaskClient
) -> None:
    result = school_result(session)
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    _post_comment(client, f"/threads/step_result/{result.id}", "ส่งแล้ว 2 ไฟล์")
    comment = session.scalars(select(Comment)).one()
    token = csrf_token(client, "/school")
    edited = client.post(
        f"/comments/{comment.id}/edit", data={"csrf_token": token, "body": "ส่งแล้ว 3 ไฟล์"}
    )
    assert edited.status_code == 302
    session.refresh(comment)
    assert comment.body == "ส่งแล้ว 3 ไฟล์" and comment.revision == 2
    (earlier,) = session.scalars(select(CommentRevision)).all()
    assert (earlier.revision, earlier.body) == (1, "ส่งแล้ว 2 ไฟล์")

    # Someone else may neither edit nor withdraw it.
    client.post("/logout", data={"csrf_token": token})
    login(client, "officer@demo.tidtam.local", "demo-officer-2566")
    token = csrf_token(client, "/review")
    client.post(f"/comments/{comment.id}/edit", data={"csrf_token": token, "body": "แก้"})
    client.post(f"/comments/{comment.id}/withdraw", data={"csrf_token": token})
    session.refresh(comment)
    assert comment.body == "ส่งแล้ว 3 ไฟล์" and comment.withdrawn_at is None

    client.post("/logout", data={"csrf_token": token})
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    token = csrf_token(client, "/school")
    client.post(f"/comments/{comment.id}/withdraw", data={"csrf_token": token})
    session.refresh(comment)
    assert comment.withdrawn_at is not None  # still there, withdrawn
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert 'data-testid="withdrawn-comment"' in page and "ส่งแล้ว 3 ไฟล์" not in page
    actions = list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("comment.%"))
            .order_by(AuditEntry.id)
        )
    )
    assert actions == ["comment.add", "comment.edit", "comment.withdraw"]


def test_a_return_opens_the_thread_with_its_reason(session: Session) -> None:
    result = school_result(session)
    school, officer = user(session, "school"), user(session, "officer")
    engine.take(
        session, school, "step_result", result.id, "submit", {"completion": "50", "narrative": "x"}
    )
    engine.take(session, officer, "step_result", result.id, "return", {"reason": "ขาดรูปถ่าย"})
    (comment,) = session.scalars(select(Comment).where(Comment.subject_id == result.id)).all()
    assert (comment.body, comment.opened_by, comment.author_id) == (
        "ขาดรูปถ่าย",
        "step_result.return",
        officer.id,
    )
    assert result.state is ResultState.RETURNED
    # And the school answers under it.
    answer, _written = add_comment(session, school, "step_result", result.id, "แนบรูปถ่ายเพิ่มแล้วค่ะ")
    assert [c.id for c in session.scalars(select(Comment).order_by(Comment.id))] == [
        comment.id,
        answer.id,
    ]


def test_requires_changes_and_a_reopened_evaluation_open_their_threads(session: Session) -> None:
    officer, approver, evaluator = (user(session, r) for r in ("officer", "approver", "evaluator"))
    project = demo_project(session)
    allocation = Allocation(
        project=project,
        recipient_unit=unit(session, "50230771"),
        amount=1000,
        state=AllocationState.SUBMITTED,
        created_by_id=officer.id,
    )
    session.add(allocation)
    session.flush()
    engine.take(session, approver, "allocation", allocation.id, "return", {"reason": "แก้วัตถุประสงค์"})
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.state == EvaluationState.PUBLISHED)
    ).first()
    assert evaluation is not None
    engine.take(session, evaluator, "evaluation", evaluation.id, "reopen", {"reason": "คะแนนผิด"})
    opened = {
        (c.subject_type, c.subject_id, c.body, c.opened_by)
        for c in session.scalars(select(Comment))
    }
    assert opened == {
        ("allocation", allocation.id, "แก้วัตถุประสงค์", "allocation.return"),
        ("evaluation", evaluation.id, "คะแนนผิด", "evaluation.reopen"),
    }


def test_the_api_shows_and_changes_the_same_thread(session: Session, client: FlaskClient) -> None:
    result = school_result(session)
    officer = user(session, "officer")
    school = headers_for(session, "school_a")
    outsider = headers_for(session, "school_b")
    session.commit()
    path = f"/api/v1/threads/step_result/{result.id}"
    made = client.post(path, json={"body": "ส่งหลักฐานครบ", "mentions": [officer.id]}, headers=school)
    assert made.status_code == 201, made.get_json()
    ident = made.get_json()["id"]
    listed = client.get(path, headers=school).get_json()
    assert listed["total"] == 1 and listed["items"][0]["body"] == "ส่งหลักฐานครบ"
    assert client.get(path, headers=outsider).status_code == 404
    assert client.get(f"/api/v1/comments/{ident}", headers=outsider).status_code == 404
    refused = client.post(
        path,
        json={"body": "x", "mentions": [db.session.get(type(officer), officer.id).id + 10_000]},
        headers=school,
    )
    assert refused.status_code == 422 and "mentions" in refused.get_json()["errors"]
    edited = client.patch(f"/api/v1/comments/{ident}", json={"body": "ส่งครบ 3 ไฟล์"}, headers=school)
    assert edited.status_code == 200
    assert edited.get_json()["revisions"][0]["body"] == "ส่งหลักฐานครบ"
    gone = client.post(f"/api/v1/comments/{ident}/withdraw", headers=school).get_json()
    assert gone["withdrawn_at"] and gone["body"] is None
    again = client.post(f"/api/v1/comments/{ident}/withdraw", headers=school)
    assert again.status_code == 409
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/threads/{subject_type}/{subject_id}" in spec["paths"]
    assert "/api/v1/comments/{ident}/withdraw" in spec["paths"]
    trail = client.get(f"/api/v1/audit/step_result/{result.id}", headers=school).get_json()
    assert {"comment.add", "comment.edit", "comment.withdraw"} <= {
        row["action"] for row in trail["items"]
    }


def test_an_edit_tells_only_the_people_it_newly_mentions(session: Session) -> None:
    result = school_result(session)
    school, officer, approver = (user(session, r) for r in ("school", "officer", "approver"))
    comment, _written = add_comment(
        session, school, "step_result", result.id, "ช่วยดูด้วยค่ะ", mentions=[officer.id]
    )
    edit_comment(session, school, comment, "ช่วยดูด้วยค่ะ ทั้งสองท่าน", [officer.id, approver.id])
    edit_comment(session, school, comment, "ช่วยดูด้วยค่ะ ทั้งสองท่าน", [approver.id])
    events = session.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == "comment.mention").order_by(OutboxEvent.id)
    ).all()
    assert [_told(session, event) for event in events] == [{officer.id}, {approver.id}]


def test_a_thread_page_in_thai_shows_no_english_and_no_raw_key(
    session: Session, client: FlaskClient
) -> None:
    from babel.messages.pofile import read_po

    from tests.html_text import strings
    from tests.test_i18n import PO, _english_patterns
    from tests.test_thai_pages import raw_keys

    allocation = session.scalars(select(Allocation).order_by(Allocation.id)).first()
    assert allocation is not None
    officer = user(session, "officer")
    add_comment(session, officer, "allocation", allocation.id, "โอนงวดแรกภายในสัปดาห์นี้")
    comment = session.scalars(select(Comment)).one()
    edit_comment(session, officer, comment, "โอนงวดแรกภายในวันศุกร์นี้")
    session.commit()
    login(client, "officer@demo.tidtam.local", "demo-officer-2566")
    html = client.get(f"/threads/allocation/{allocation.id}?lang=th").get_data(as_text=True)
    assert "โอนงวดแรกภายในวันศุกร์นี้" in html and "ถ้อยคำก่อนแก้ไข (1)" in html
    with PO.open("rb") as source:
        patterns = _english_patterns(read_po(source, locale="th"))
    found = [
        (msgid, text)
        for text in strings(html)
        for msgid, pattern in patterns
        if pattern.search(text)
    ]
    keys = [key for text in strings(html) for key in raw_keys(text)]
    assert not found and not keys, (found, keys)


def test_the_api_takes_files_as_the_pages_do(session: Session, client: FlaskClient) -> None:
    result = school_result(session)
    school, outsider = headers_for(session, "school_a"), headers_for(session, "school_b")
    session.commit()
    path = f"/api/v1/threads/step_result/{result.id}/with-files"
    refused = client.post(
        path,
        data={"body": "รูปค่ะ", "files": [(io.BytesIO(PNG), "รูป.pdf")]},
        content_type="multipart/form-data",
        headers=school,
    )
    assert refused.status_code == 422, refused.get_json()
    made = client.post(
        path,
        data={"body": "หลักฐานค่ะ", "files": [(io.BytesIO(PDF), "หลักฐาน.pdf")]},
        content_type="multipart/form-data",
        headers=school,
    )
    assert made.status_code == 201, made.get_json()
    (attachment,) = made.get_json()["attachments"]
    assert attachment["name"] == "หลักฐาน.pdf" and attachment["content_type"] == "application/pdf"
    got = client.get(attachment["url"], headers=school)
    assert got.status_code == 200 and got.data == PDF
    got.close()
    assert client.get(attachment["url"], headers=outsider).status_code == 404
    assert session.scalar(select(func.count()).select_from(CommentAttachment)) == 1


def test_a_multipart_comment_refuses_unknown_fields(session: Session, client: FlaskClient) -> None:
    result = school_result(session)
    school = headers_for(session, "school_a")
    session.commit()
    response = client.post(
        f"/api/v1/threads/step_result/{result.id}/with-files",
        data={"body": "x", "colour": "red"},
        content_type="multipart/form-data",
        headers={**school, "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"colour": "Unknown field."}
    assert session.scalar(select(func.count()).select_from(Comment)) == 0


def test_a_thread_leads_to_its_project_only_for_who_may_open_it(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """A school paid from a project it takes no part in: its allocation's thread offered
    "Go to the project", whose page answers it 404. The way is offered where it opens."""
    from tests.work_data import school_allocation, sibling_project

    allocation = school_allocation(session)
    seen = allocation.project
    elsewhere = school_allocation(session)
    unseen = sibling_project(session, seen, "50230000-9001")
    elsewhere.project = unseen
    session.commit()

    def way(client: FlaskClient, ident: int) -> str:
        page = client.get(f"/threads/allocation/{ident}").get_data(as_text=True)
        return page.split('data-testid="thread-subject"')[1].split("</p>", 2)[1]

    school = login_as("school")
    assert school.get(f"/projects/{unseen.id}").status_code == 404
    assert "/projects/" not in way(school, elsewhere.id)
    assert 'href="/home"' in way(school, elsewhere.id)  # and not left without a way back
    subject = school.get(f"/threads/allocation/{elsewhere.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="thread-subject">The allocation' in subject
    assert f'href="/projects/{seen.id}"' in way(school, allocation.id)
    assert school.get(f"/projects/{seen.id}").status_code == 200
    # The district that allocated it sees the project, and is led there.
    school.post("/logout", data={"csrf_token": csrf_token(school, "/school")})
    assert f'href="/projects/{unseen.id}"' in way(login_as("officer"), elsewhere.id)
