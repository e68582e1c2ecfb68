"""A school withdraws or replaces a wrong evidence file before its result is accepted: the file
stays on disk and in the result's history, and the district reviews only the current files."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import Role
from service.org.operations import create_user, grant_role
from service.projects.models import EvidenceFile, ResultState, StepResult
from service.workflow import engine
from tests.conftest import csrf_token, login
from tests.work_data import (
    PDF,
    PNG,
    audited,
    in_app_context,  # noqa: F401
    school_result,
    unit,
    user,
)


def _submit_with(client: FlaskClient, result: StepResult, *files: tuple[bytes, str]) -> None:
    response = client.post(
        f"/results/{result.id}",
        data={
            "csrf_token": csrf_token(client, f"/results/{result.id}"),
            "completion": "80",
            "narrative": "อบรมครูครบทุกคน",
            "files": [(io.BytesIO(content), name) for content, name in files],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]


def _file(session: Session, result: StepResult, name: str) -> EvidenceFile:
    return session.scalars(
        select(EvidenceFile).where(
            EvidenceFile.result_id == result.id, EvidenceFile.original_name == name
        )
    ).one()


def _audit_count(session: Session, action: str) -> int:
    return audited(session, action)


def _withdraw(client: FlaskClient, result: StepResult, evidence: EvidenceFile):  # type: ignore[no-untyped-def]
    token = csrf_token(client, f"/results/{result.id}")
    return client.post(f"/evidence/{evidence.id}/withdraw", data={"csrf_token": token})


def test_the_school_withdraws_a_wrong_file_before_review(
    login_as, session: Session, app: Flask
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    _submit_with(client, result, (PDF, "รายงาน.pdf"), (PNG, "ผิดไฟล์.png"))
    wrong = _file(session, result, "ผิดไฟล์.png")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert "ถอนไฟล์" in page and "แทนที่" in page
    assert f'action="/evidence/{wrong.id}/withdraw"' in page
    audits = _audit_count(session, "evidence.withdraw")

    response = _withdraw(client, result, wrong)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]

    session.expire_all()
    assert wrong.withdrawn_at is not None
    assert wrong.withdrawn_by_id == user(session, "school").id
    assert [e.original_name for e in result.current_evidence] == ["รายงาน.pdf"]
    assert (Path(app.config["UPLOAD_FOLDER"]) / wrong.stored_name).is_file()  # nothing deleted
    assert _audit_count(session, "evidence.withdraw") == audits + 1
    assert result.state is ResultState.SUBMITTED  # still waiting for review
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    history = page.split('data-testid="withdrawn-evidence"')[1].split("</ul>")[0]
    assert "ผิดไฟล์.png" in history and user(session, "school").name in history
    assert f'/evidence/{wrong.id}"' not in page  # no longer offered as a download
    assert client.get(f"/evidence/{wrong.id}").status_code == 404

    # The review queue counts only the current file.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/school")})
    officer = login_as("officer")
    queue = officer.get("/review").get_data(as_text=True)
    row = queue.split(f'data-result="{result.id}"')[1].split("</tr>")[0]
    assert "ไฟล์หลักฐาน 1 ไฟล์" in row
    review_page = officer.get(f"/results/{result.id}").get_data(as_text=True)
    current = review_page.split('id="h-evidence"')[1].split('data-testid="withdrawn-evidence"')[0]
    assert "รายงาน.pdf" in current and "ผิดไฟล์.png" not in current


def test_replace_withdraws_and_uploads_in_one_request(
    login_as, session: Session, app: Flask
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    _submit_with(client, result, (PNG, "ผิดไฟล์.png"))
    wrong = _file(session, result, "ผิดไฟล์.png")
    token = csrf_token(client, f"/results/{result.id}")
    response = client.post(
        f"/evidence/{wrong.id}/replace",
        data={"csrf_token": token, "file": (io.BytesIO(PDF), "ถูกไฟล์.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    session.expire_all()
    assert [e.original_name for e in result.current_evidence] == ["ถูกไฟล์.pdf"]
    assert [e.original_name for e in result.withdrawn_evidence] == ["ผิดไฟล์.png"]
    folder = Path(app.config["UPLOAD_FOLDER"])
    assert all((folder / e.stored_name).is_file() for e in result.evidence)

    # A replacement that is refused (not really a PDF) changes nothing: the old file stays.
    right = _file(session, result, "ถูกไฟล์.pdf")
    refused = client.post(
        f"/evidence/{right.id}/replace",
        data={"csrf_token": token, "file": (io.BytesIO(PNG), "ปลอม.pdf")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    session.expire_all()
    assert right.withdrawn_at is None
    assert [e.original_name for e in result.current_evidence] == ["ถูกไฟล์.pdf"]


def test_withdrawing_after_acceptance_is_refused(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    _submit_with(client, result, (PDF, "รายงาน.pdf"))
    engine.take(session, user(session, "officer"), "step_result", result.id, "accept", {})
    session.commit()
    evidence = _file(session, result, "รายงาน.pdf")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert f"/evidence/{evidence.id}/withdraw" not in page  # not offered
    audits = _audit_count(session, "evidence.withdraw")

    response = _withdraw(client, result, evidence)
    assert response.status_code == 409
    assert "ถอน รายงาน.pdf ไม่ได้ เพราะผลการดำเนินงานนี้รับรองแล้ว" in response.get_data(as_text=True)
    english = client.post(
        f"/evidence/{evidence.id}/withdraw?lang=en",
        data={"csrf_token": csrf_token(client, f"/results/{result.id}?lang=en")},
    )
    assert english.status_code == 409
    assert "the result is already accepted" in english.get_data(as_text=True)
    session.expire_all()
    assert evidence.withdrawn_at is None and evidence.withdrawn_by_id is None
    assert _audit_count(session, "evidence.withdraw") == audits


def test_another_school_or_an_anonymous_user_cannot_withdraw(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    login_as("school")
    result = school_result(session)
    _submit_with(client, result, (PDF, "รายงาน.pdf"))
    evidence = _file(session, result, "รายงาน.pdf")
    token = csrf_token(client, f"/results/{result.id}")
    client.post("/logout", data={"csrf_token": token})

    # Not signed in: sent to sign in, nothing changes.
    anonymous = client.post(
        f"/evidence/{evidence.id}/withdraw", data={"csrf_token": csrf_token(client, "/login")}
    )
    assert anonymous.status_code in (302, 401)
    if anonymous.status_code == 302:
        assert "/login" in anonymous.headers["Location"]

    other = create_user(
        session, email="kok@demo.tidtam.local", name="ครูโรงเรียนวัดกก", password="kok-school-2566"
    )
    grant_role(session, other, Role.SCHOOL, unit(session, "5023077103"))
    session.commit()
    login(client, "kok@demo.tidtam.local", "kok-school-2566")
    token = csrf_token(client, "/school")
    assert (
        client.post(f"/evidence/{evidence.id}/withdraw", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        client.post(
            f"/evidence/{evidence.id}/replace",
            data={"csrf_token": token, "file": (io.BytesIO(PDF), "x.pdf")},
            content_type="multipart/form-data",
        ).status_code
        == 404
    )
    client.post("/logout", data={"csrf_token": token})

    # The approver sees the result but does not report it: 403 with the reason.
    approver = login_as("approver")
    refused = approver.post(
        f"/evidence/{evidence.id}/withdraw",
        data={"csrf_token": csrf_token(approver, f"/results/{result.id}")},
    )
    assert refused.status_code == 403
    session.expire_all()
    assert evidence.withdrawn_at is None


def test_a_resubmission_cannot_take_back_what_the_district_accepted(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    _submit_with(client, result, (PDF, "รายงาน.pdf"))
    engine.take(session, user(session, "officer"), "step_result", result.id, "accept", {})
    session.commit()
    _submit_with(client, result, (PNG, "เพิ่มเติม.png"))  # submitted again, waiting for review
    accepted = _file(session, result, "รายงาน.pdf")
    added = _file(session, result, "เพิ่มเติม.png")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert f"/evidence/{added.id}/withdraw" in page
    assert f"/evidence/{accepted.id}/withdraw" not in page

    refused = _withdraw(client, result, accepted)
    assert refused.status_code == 409
    assert "เขตพื้นที่รับรองผลพร้อมไฟล์นี้ไปแล้ว" in refused.get_data(as_text=True)
    assert _withdraw(client, result, added).status_code == 302
    session.expire_all()
    assert accepted.withdrawn_at is None and added.withdrawn_at is not None
