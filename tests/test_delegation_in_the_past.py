"""A delegation whose last day has already passed lets nobody act for anyone: it is refused
(422, on its last day's field) through the API (problem+json, Thai or English) and on the
admin page (what was typed kept), and nothing is written. A delegation that began in the past
and lasts until today or later is a delegation in force and is accepted."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.core.fiscal import local_today
from service.org.models import Delegation
from tests.api_support import all_headers, problem_of, user
from tests.conftest import csrf_token

API = "/api/v1"


def _written(session: Session) -> tuple[int, int]:
    delegations = session.scalar(select(func.count(Delegation.id)))
    created = session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action == "delegation.create")
    )
    return int(delegations or 0), int(created or 0)


def test_the_api_refuses_a_delegation_that_has_already_ended(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    officer = user(session, "officer")
    today = local_today()

    def delegate(starts: int, ends: int, lang: str = "th") -> object:
        return client.post(
            f"{API}/delegations",
            json={
                "delegate_id": officer.id,
                "starts_on": (today + timedelta(days=starts)).isoformat(),
                "ends_on": (today + timedelta(days=ends)).isoformat(),
                "reason": "ไปราชการ",
            },
            headers={**headers["approver"], "Accept-Language": lang},
        )

    before = _written(session)
    for starts, ends in ((-30, -1), (-1, -1), (-400, -300)):
        refused = delegate(starts, ends)
        assert refused.status_code == 422, (starts, ends)  # type: ignore[attr-defined]
        body = problem_of(refused)
        assert "วันสุดท้ายต้องเป็นวันนี้หรือหลังจากนี้" in body["detail"], body
        assert body["errors"] == {"ends_on": "ต้องเป็นวันนี้หรือหลังจากนี้"}, body
    english = problem_of(delegate(-10, -2, lang="en"))
    assert "its last day must be today or later" in english["detail"], english
    assert english["errors"] == {"ends_on": "must be today or later"}, english
    assert _written(session) == before

    # Begun a week ago, ending today: in force today, accepted.
    made = delegate(-7, 0)
    assert made.status_code == 201, made.get_data(as_text=True)  # type: ignore[attr-defined]


def test_the_admin_page_refuses_it_and_keeps_what_was_typed(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    client = login_as("admin")
    approver, officer = user(session, "approver"), user(session, "officer")
    today = local_today()
    first, last = today - timedelta(days=20), today - timedelta(days=3)
    before = _written(session)
    refused = client.post(
        "/admin/delegations",
        data={
            "csrf_token": csrf_token(client, "/admin/delegations"),
            "principal_id": str(approver.id),
            "delegate_id": str(officer.id),
            "starts_on": first.isoformat(),
            "ends_on": last.isoformat(),
            "reason": "ลาพักร้อนที่ผ่านมาแล้ว",
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "วันสุดท้ายต้องเป็นวันนี้หรือหลังจากนี้" in page
    assert 'id="ends_on" aria-invalid="true"' in page
    assert 'value="ลาพักร้อนที่ผ่านมาแล้ว"' in page
    for day in (first, last):
        assert f'value="{day.day}/{day.month}/{day.year + 543}"' in page
    assert _written(session) == before
