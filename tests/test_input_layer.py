"""The input layer, request by request: each hostile value the issue names is a 4xx (it was
a 500), Thai digits still work, stored file names lose their control characters, report
dates and delegations are bounded, and the OpenAPI document says what the server refuses."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.projects.evidence import Upload, display_name, store_evidence
from service.projects.models import ProgressReport
from tests.api_support import headers_for, problem_of
from tests.conftest import csrf_token
from tests.work_data import demo_project, school_allocation, school_result, unit, user


def audit_rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize(
    "path",
    [
        "/public/projects?q=%00",
        "/public/projects?year=99999999999",
        "/public/projects?year=%C2%B2",
        "/public/projects?page=%C2%B2",
        "/public/projects/99999999999",
        "/projects/99999999999",
    ],
)
def test_anonymous_hostile_queries_are_refused_not_failed(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code in (200, 302, 400, 404)  # 200: page 1 shown


def test_a_login_email_with_nul_is_a_400_in_thai(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": "a\x00@demo.tidtam.local", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "ไม่สามารถจัดเก็บ" in response.get_data(as_text=True)


def test_signed_in_hostile_ids_and_values_are_refused(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert client.get("/projects/99999999999").status_code == 404
    assert client.get("/evidence/99999999999").status_code == 404
    token = csrf_token(client, "/review")
    before = audit_rows(session)
    review = client.post("/review", data={"csrf_token": token, "action": "accept", "ids": "²"})
    assert review.status_code == 302  # "choose at least one result"
    read = client.post("/notifications/read", data={"csrf_token": token, "id": "²"})
    assert read.status_code == 400
    project = demo_project(session)
    for amount in ("1e309", "NaN", "10000000000000"):
        response = client.post(
            "/budget/allocations",
            data={
                "csrf_token": token,
                "project_id": str(project.id),
                "recipient_unit_id": str(unit(session, "5023077101").id),
                "amount": amount,
                "purpose": "x",
            },
        )
        assert response.status_code == 422, amount
    assert audit_rows(session) == before


def test_installment_amounts_out_of_range_are_refused(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    allocation = school_allocation(session)
    client = login_as("school")
    token = csrf_token(client, "/school")
    before = audit_rows(session)
    for amount in ("1e309", "NaN", "10000000000000", "²"):
        response = client.post(
            f"/allocations/{allocation.id}/installments",
            data={"csrf_token": token, "amount": amount, "purpose": "x"},
        )
        assert response.status_code == 422, amount
    assert audit_rows(session) == before


def test_thai_digits_keep_working(client: FlaskClient, session: Session) -> None:
    project = demo_project(session)
    thai = str(project.id).translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    listing = client.get("/public/projects?year=๒๕๖๖")
    assert listing.status_code == 200 and project.code in listing.get_data(as_text=True)
    assert client.get(f"/public/projects/{thai}").status_code == 200


def test_api_refuses_deep_json_and_lone_surrogates_with_problems(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    headers = {**headers_for(session, "officer"), "Content-Type": "application/json"}
    session.commit()
    deep = client.post("/api/v1/units", data="[" * 50_000 + "]" * 50_000, headers=headers)
    assert deep.status_code == 400 and problem_of(deep)
    nested = client.post("/api/v1/units", data='{"a":' * 100 + "1" + "}" * 100, headers=headers)
    assert nested.status_code == 400 and problem_of(nested)
    lone = client.post("/api/v1/units", data='{"code": "\\ud800", "name_th": "x"}', headers=headers)
    assert lone.status_code == 400 and problem_of(lone)


def test_stored_file_names_lose_control_and_direction_characters(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    assert display_name("C:\\x\\report\u202efdp.png") == "reportfdp.png"
    assert display_name("\x00\x07\u200f") == "file"
    assert display_name("รายงาน ๑.pdf") == "รายงาน ๑.pdf"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    with app.test_request_context():
        evidence, _path = store_evidence(
            session,
            user(session, "school"),
            school_result(session),
            Upload("ภาพ\u202egnp.\x1bpng", png),
            tmp_path,
            1024 * 1024,
        )
    assert evidence.original_name == "ภาพgnp.png"


def test_report_dates_are_bounded(login_as, session: Session, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    project = demo_project(session)  # fiscal year 2566: October 2022 to September 2023
    client = login_as("officer")
    token = csrf_token(client, f"/projects/{project.id}/edit")
    before = session.scalar(select(func.count()).select_from(ProgressReport))
    for day in ("9999-12-31", "2030-01-01", "2021-01-01"):
        response = client.post(
            f"/projects/{project.id}/reports",
            data={"csrf_token": token, "reported_on": day, "percent": "40", "narrative": "x"},
        )
        assert response.status_code == 422, day
    thai = client.post(
        f"/projects/{project.id}/reports",
        data={"csrf_token": token, "reported_on": "2030-01-01", "percent": "40", "narrative": "x"},
    ).get_data(as_text=True)
    assert "วันที่ของรายงาน" in thai
    assert session.scalar(select(func.count()).select_from(ProgressReport)) == before


def test_an_eight_thousand_year_delegation_is_refused(
    login_as,  # type: ignore[no-untyped-def]
    session: Session,
    client: FlaskClient,
) -> None:
    today = date.today()
    officer, evaluator = user(session, "officer"), user(session, "evaluator")
    headers = headers_for(session, "officer")
    session.commit()
    body: dict[str, Any] = {
        "delegate_id": evaluator.id,
        "starts_on": today.isoformat(),
        "ends_on": "9999-12-31",
    }
    assert client.post("/api/v1/delegations", json=body, headers=headers).status_code == 422
    body["ends_on"] = (today + timedelta(days=2000)).isoformat()
    long = client.post("/api/v1/delegations", json=body, headers=headers)
    assert long.status_code == 422 and "366" in problem_of(long)["detail"]
    admin = login_as("admin")
    token = csrf_token(admin, "/admin/delegations")
    page = admin.post(
        "/admin/delegations",
        data={
            "csrf_token": token,
            "principal_id": str(officer.id),
            "delegate_id": str(evaluator.id),
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=4000)).isoformat(),
        },
    )
    assert page.status_code == 422 and "366" in page.get_data(as_text=True)


def test_the_openapi_document_says_what_the_server_refuses(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    user_create = schemas["UserCreate"]["properties"]
    assert user_create["email"]["format"] == "email"
    assert user_create["language"]["enum"] == ["th", "en"]
    assert "\\u0000" in user_create["name"]["pattern"]
    assert "\\u0000" in user_create["password"]["pattern"]
    for name in ("AllocationCreate", "InstallmentCreate"):
        pattern = schemas[name]["properties"]["amount"]["pattern"]
        assert not pattern.startswith("^-?"), name  # no negative amounts, and no zero
        assert "[1-9]" in pattern


@pytest.mark.parametrize("raw", ["1e309", "10000000000000", "-1e400"])
def test_workflow_decimal_fields_refuse_huge_numbers_as_input(raw: str) -> None:
    from service.workflow.engine import date_field, decimal_field

    with pytest.raises(ValueError, match="12 digits"):
        decimal_field("amount").parse(raw)  # quantizing 1e309 raised InvalidOperation
    with pytest.raises(ValueError):
        date_field("paid_on").parse("9999-12-31")


@pytest.mark.parametrize("header", ["²", "99999999999", "-1", "1e309"])
def test_a_hostile_acting_for_header_is_a_422(
    client: FlaskClient, session: Session, header: str
) -> None:
    headers = {**headers_for(session, "officer"), "X-Acting-For": header, "Accept-Language": "en"}
    session.commit()
    project = demo_project(session)
    response = client.post(
        f"/api/v1/projects/{project.id}/transitions/submit", json={}, headers=headers
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert problem_of(response)["errors"] == {"X-Acting-For": "not a user id"}


def test_a_value_too_long_names_its_field_and_the_way_back(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """100,000 characters pasted into an allocation's purpose: the 400 says which field is too
    long, in the page's language, and that the browser's Back button still has the input."""
    client = login_as("officer")
    project = demo_project(session)
    before = audit_rows(session)
    response = client.post(
        "/budget/allocations",
        data={
            "csrf_token": csrf_token(client, "/budget?lang=th"),
            "project_id": str(project.id),
            "recipient_unit_id": str(unit(session, "5023077101").id),
            "amount": "1000",
            "purpose": "ก" * 100_000,
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "วัตถุประสงค์ ยาวเกินกว่าที่กำหนด (60,000 ตัวอักษร)" in page
    assert "กดปุ่มย้อนกลับของเบราว์เซอร์" in page
    assert audit_rows(session) == before


@pytest.mark.parametrize("raw", ["1e3", "1E3", "5e-1", "1_000"])
def test_amounts_in_exponent_form_or_with_underscores_are_refused(
    login_as, session: Session, raw: str
) -> None:  # type: ignore[no-untyped-def]
    """Python's Decimal reads "1e3" as 1000 and "1_000" as 1000: an allocation of 1,000 baht
    was made from "1e3", though the page asks for a number such as 90000.00 (and the API's
    schema says so). Thai digits and thousands separators keep working."""
    from service.core.fields import Money
    from service.workflow.engine import decimal_field

    with pytest.raises(ValidationError):
        Money().deserialize(raw)
    with pytest.raises(ValueError):
        decimal_field("amount").parse(raw)
    assert Money(commas=True).deserialize("๑,๐๐๐.๕๐") == Decimal("1000.50")
    assert decimal_field("amount").parse("๑,๐๐๐") == Decimal("1000")
    allocation = school_allocation(session)
    client = login_as("school")
    before = audit_rows(session)
    response = client.post(
        f"/allocations/{allocation.id}/installments",
        data={"csrf_token": csrf_token(client, "/school"), "amount": raw, "purpose": "x"},
    )
    assert response.status_code == 422
    assert "90000.00" in response.get_data(as_text=True)
    assert audit_rows(session) == before
