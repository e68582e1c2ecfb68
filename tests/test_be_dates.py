"""Dates are typed in the Buddhist Era: the pages show a stored day as 30/12/2565 and read back
ISO, BE or CE d/m/yyyy, Thai digits and Thai month names; a BE year typed into an ISO date is
refused at once, in Thai, naming what was typed, and nothing is written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.fields import Day, Invalid, read_day, value_of
from service.core.fiscal import local_today
from service.core.thai import to_thai_digits
from service.projects.models import ProgressReport, Project
from tests.conftest import csrf_token
from tests.test_work_editor import _create, _form
from tests.work_data import demo_project, in_app_context  # noqa: F401

DEC_30 = date(2022, 12, 30)


@pytest.mark.parametrize(
    "typed",
    [
        "2022-12-30",
        "30/12/2565",
        "30/12/2022",
        " 30/12/2565 ",
        "๓๐/๑๒/๒๕๖๕",
        "30 ธ.ค. 2565",
        "30 ธค 2565",
        "30 ธันวาคม 2565",
        "30 ธันวาคม พ.ศ. 2565",
        "๓๐ ธ.ค. ๒๕๖๕",
    ],
)
def test_every_way_of_typing_the_day_reads_the_same(typed: str) -> None:
    assert read_day(typed) == DEC_30


def test_the_api_keeps_iso() -> None:
    assert read_day("2022-12-30", typed=False) == DEC_30
    with pytest.raises(ValidationError):
        read_day("30/12/2565", typed=False)
    # a BE year in an ISO day: the API is told the ISO day it reads, not the page's form
    # (which it would then refuse as not ISO)
    with pytest.raises(ValidationError) as be_year:
        read_day("2565-12-30", typed=False)
    assert "2022-12-30" in str(be_year.value) and "30/12/2565" not in str(be_year.value)


@pytest.mark.parametrize(
    ("typed", "thai"),
    [
        ("2566-12-30", "ปี 2566 ดูเหมือนเป็นปี พ.ศ.: กรอกเป็น 30/12/2566"),
        ("30/12/2300", "30/12/2300: ปี 2300 เป็นไปไม่ได้ กรอกเป็น วว/ดด/ปปปป (พ.ศ.) เช่น 30/12/2565"),
        ("30/12/1800", "30/12/1800: ปี 1800 เป็นไปไม่ได้"),
        ("30/12/2701", "30/12/2701: ปี 2701 เป็นไปไม่ได้"),
        ("1800-12-30", "1800-12-30: ปี 1800 เป็นไปไม่ได้"),
        ("31/02/2565", "ไม่ใช่วันที่: กรอกเป็น วว/ดด/ปปปป (พ.ศ.)"),
        ("30 ธุ.ค. 2565", "ไม่ใช่วันที่"),
        ("พรุ่งนี้", "ไม่ใช่วันที่"),
    ],
)
def test_an_impossible_day_is_refused_in_thai(app: Flask, typed: str, thai: str) -> None:
    with app.test_request_context("/?lang=th"):
        with pytest.raises(Invalid) as refused:
            value_of(Day(typed=True, required=True), {"on": typed}, "on")
        assert thai in refused.value.message


def be(day: date) -> str:
    return f"{day.day}/{day.month}/{day.year + 543}"


def _project(client: FlaskClient, session: Session) -> Project:
    """A draft project made through the editor, its steps typed as ISO (a date input's value)."""
    assert _create(client, session).status_code == 302
    return session.scalars(select(Project).where(Project.code == "50230000-9100")).one()


def test_the_editor_shows_be_and_reads_be_back(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = _project(client, session)
    page = client.get(f"/projects/{project.id}/edit?lang=th").get_data(as_text=True)
    assert 'value="1/10/2566"' in page and 'value="31/3/2567"' in page
    assert 'inputmode="numeric"' in page and 'placeholder="วว/ดด/ปปปป (พ.ศ.)"' in page
    assert 'type="date"' not in page

    data = _form(
        session,
        step_start=["๓ ต.ค. ๒๕๖๖", "1/11/2566", ""],
        step_end=["31/10/2566", "31 มีนาคม 2567", ""],
    )
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit")
    response = client.post(f"/projects/{project.id}/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    session.expire_all()
    assert [(s.planned_start, s.planned_end) for s in project.steps] == [
        (date(2023, 10, 3), date(2023, 10, 31)),
        (date(2023, 11, 1), date(2024, 3, 31)),
    ]


def test_a_be_year_typed_as_iso_is_refused_at_once(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = _project(client, session)
    before = [(s.planned_start, s.planned_end, s.name) for s in project.steps]
    data = _form(
        session,
        step_name=["ชื่อใหม่", "ดำเนินโครงการ", ""],
        step_end=["2566-10-31", "2024-03-31", ""],
    )
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit?lang=th")
    response = client.post(f"/projects/{project.id}/edit?lang=th", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "ปี 2566 ดูเหมือนเป็นปี พ.ศ.: กรอกเป็น 31/10/2566" in page
    assert 'value="2566-10-31"' in page  # what was typed comes back to be corrected
    session.expire_all()
    assert [(s.planned_start, s.planned_end, s.name) for s in project.steps] == before


def test_a_report_dated_in_be(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = demo_project(session)
    count = len(
        session.scalars(select(ProgressReport).where(ProgressReport.project_id == project.id)).all()
    )
    day = project.fiscal_year.starts_on
    token = csrf_token(client, f"/projects/{project.id}/edit?lang=th")
    refused = client.post(
        f"/projects/{project.id}/reports?lang=th",
        data={
            "csrf_token": token,
            "reported_on": f"{day.year + 543}-{day.month:02}-{day.day:02}",
            "percent": "10",
            "narrative": "ตามแผน",
        },
    )
    assert refused.status_code == 422
    assert "ดูเหมือนเป็นปี พ.ศ." in refused.get_data(as_text=True)
    response = client.post(
        f"/projects/{project.id}/reports",
        data={"csrf_token": token, "reported_on": be(day), "percent": "10", "narrative": "ตามแผน"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    reports = session.scalars(
        select(ProgressReport)
        .where(ProgressReport.project_id == project.id)
        .order_by(ProgressReport.id)
    ).all()
    assert len(reports) == count + 1 and reports[-1].reported_on == day
    # a day outside the year is refused with both ends in BE, as the form is typed
    early = day - timedelta(days=1)
    outside = client.post(
        f"/projects/{project.id}/reports?lang=th",
        data={"csrf_token": token, "reported_on": be(early), "percent": "10", "narrative": "ก"},
    )
    assert outside.status_code == 422
    page = outside.get_data(as_text=True)
    assert f"1 ต.ค. {day.year + 543}" in page and day.isoformat() not in page


def test_a_delegation_typed_in_be(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    from service.org.models import Delegation, User

    client = login_as("admin")
    approver, officer = (
        session.scalars(select(User).where(User.email == f"{role}@demo.tidtam.local")).one()
        for role in ("approver", "officer")
    )
    token = csrf_token(client, "/admin/delegations?lang=th")
    page = client.get("/admin/delegations?lang=th").get_data(as_text=True)
    assert 'type="date"' not in page and "วว/ดด/ปปปป (พ.ศ.)" in page
    form = {
        "csrf_token": token,
        "principal_id": str(approver.id),
        "delegate_id": str(officer.id),
        "reason": "ลาพักร้อนปีใหม่",
    }
    refused = client.post(
        "/admin/delegations?lang=th",
        data={**form, "starts_on": "2567-01-01", "ends_on": "31/1/2567"},
    )
    assert refused.status_code == 422
    assert "ปี 2567 ดูเหมือนเป็นปี พ.ศ.: กรอกเป็น 1/1/2567" in refused.get_data(as_text=True)
    assert not session.scalars(select(Delegation).where(Delegation.reason == "ลาพักร้อนปีใหม่")).all()
    # Next New Year (a delegation must not have ended already), typed in BE.
    year = local_today().year + 1
    made = client.post(
        "/admin/delegations",
        data={
            **form,
            "starts_on": f"1 ม.ค. {year + 543}",
            "ends_on": to_thai_digits(f"31/1/{year + 543}"),
        },
    )
    assert made.status_code == 302
    delegation = session.scalars(select(Delegation).where(Delegation.reason == "ลาพักร้อนปีใหม่")).one()
    assert (delegation.starts_on, delegation.ends_on) == (date(year, 1, 1), date(year, 1, 31))
    page = client.get("/admin/delegations?lang=th").get_data(as_text=True)
    assert f"1 ม.ค. {year + 543}" in page  # listed the Thai way
