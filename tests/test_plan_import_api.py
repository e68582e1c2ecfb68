"""/api/v1/plan-imports: the page's import through the API. A preview writes nothing and
names every problem by sheet, row and column in the reader's language; confirming the id
applies the file all or nothing; the same file again changes nothing; callers who may not
plan are refused; an id is its uploader's alone."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.projects.models import Project
from tests.api_support import headers_for, problem_of
from tests.plan_files import good_plan, workbook, year_kpi
from tests.test_thai_refusals import english_in

TH = {"Accept-Language": "th"}
EN = {"Accept-Language": "en"}


def _send(client: FlaskClient, headers: dict[str, str], data: bytes) -> Any:
    return client.post(
        "/api/v1/plan-imports",
        data={"file": (io.BytesIO(data), "plan.xlsx")},
        content_type="multipart/form-data",
        headers=headers,
    )


def _codes(session: Session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Project.code).where(Project.code.like("50230000-88%"))))


def test_preview_confirm_and_the_same_file_again(client: FlaskClient, session: Session) -> None:
    officer = headers_for(session, "officer")
    approver = headers_for(session, "approver")
    year_kpi(session, "5023-6525", 2567)
    session.commit()
    template = client.get("/api/v1/plan-imports/template.xlsx", headers=officer)
    assert template.status_code == 200
    assert "โครงการ" in load_workbook(io.BytesIO(template.data)).sheetnames

    audits = session.scalar(select(func.count()).select_from(AuditEntry))
    answer = _send(client, officer, good_plan())
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    preview = answer.get_json()
    assert preview["ok"] and preview["problems"] == [] and len(preview["id"]) == 32
    assert preview["counts"] == {"create": 2, "update": 0, "unchanged": 0, "locked": 0}
    assert {c["code"]: c["action"] for c in preview["changes"]} == {
        "50230000-8801": "create",
        "50230000-8802": "create",
    }
    assert _codes(session) == set()  # nothing written by the preview
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audits

    # Another person cannot confirm it: the id is the uploader's alone.
    other = client.post(f"/api/v1/plan-imports/{preview['id']}", headers={**approver, **TH})
    assert other.status_code == 404
    assert not english_in(problem_of(other)["detail"].replace(preview["id"], ""))

    done = client.post(f"/api/v1/plan-imports/{preview['id']}", headers=officer)
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    assert done.get_json()["counts"]["create"] == 2
    assert _codes(session) == {"50230000-8801", "50230000-8802"}
    again = client.post(f"/api/v1/plan-imports/{preview['id']}", headers=officer)
    assert again.status_code == 404  # confirmed once, gone

    audits = session.scalar(select(func.count()).select_from(AuditEntry))
    second = _send(client, officer, good_plan()).get_json()
    assert second["counts"] == {"create": 0, "update": 0, "unchanged": 2, "locked": 0}
    assert client.post(f"/api/v1/plan-imports/{second['id']}", headers=officer).status_code == 200
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audits

    changed = _send(client, officer, good_plan(name="โครงการอ่านคล่อง")).get_json()
    update = next(c for c in changed["changes"] if c["action"] == "update")
    assert update["code"] == "50230000-8801" and update["changed"] == ["name"]


def test_problems_in_the_readers_language_and_no_id(client: FlaskClient, session: Session) -> None:
    officer = headers_for(session, "officer")
    session.commit()
    projects = [["50230000-8811", "ก", 2024, "50230000", "99999999", "งานประจำ", "1000", "", ""]]
    steps = [["50230000-8811", 1, "หนึ่ง", 90, "1/10/2566", "1/12/2566", ""]]
    bad = workbook(projects, steps)
    thai = _send(client, {**officer, **TH}, bad).get_json()
    assert thai["ok"] is False and thai["id"] is None
    found = {(p["sheet"], p["row"], p["column"]) for p in thai["problems"]}
    assert {("โครงการ", 2, "C"), ("โครงการ", 2, "E"), ("ขั้นตอน", 2, "D")} <= found
    for problem in thai["problems"]:
        assert not english_in(problem["message"]), problem
        assert problem["sheet_label"] in ("โครงการ", "ขั้นตอน"), problem
    english = _send(client, {**officer, **EN}, bad).get_json()
    assert any("not 100" in p["message"] for p in english["problems"])
    assert {p["sheet_label"] for p in english["problems"]} <= {"Projects", "Steps"}
    assert _codes(session) == set()

    not_a_book = _send(client, {**officer, **TH}, b"just text").get_json()
    assert not_a_book["ok"] is False and not_a_book["problems"][0]["row"] == 0


def test_only_those_who_plan_may_import(client: FlaskClient, session: Session) -> None:
    headers = {role: headers_for(session, role) for role in ("school_a", "evaluator", "admin")}
    session.commit()
    for role, header in headers.items():
        answer = _send(client, {**header, **TH}, good_plan())
        assert answer.status_code == 403, role
        assert not english_in(problem_of(answer)["detail"]), role
        assert client.get("/api/v1/plan-imports/template.xlsx", headers=header).status_code == 403
    assert _codes(session) == set()
