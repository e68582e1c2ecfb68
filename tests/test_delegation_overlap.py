"""One delegation at a time from a person to the same deputy: a second one whose days overlap a
delegation neither withdrawn nor ended is refused (409), naming the existing one's dates, on
the admin page (what was typed kept) and through the API (problem+json); a withdrawn or an
ended one, another deputy, or days next to it (not on it) are no obstacle."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.core.fiscal import local_today
from service.core.thai import format_be_date
from service.org.models import Delegation
from tests.api_support import all_headers, problem_of, user
from tests.conftest import csrf_token

API = "/api/v1"


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count(Delegation.id))) or 0)


def _created(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "delegation.create")
        )
        or 0
    )


def test_the_api_refuses_an_overlapping_delegation_to_the_same_deputy(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    approver, officer, school = (
        user(session, "approver"),
        user(session, "officer"),
        user(session, "school"),
    )
    today = local_today()
    first_day, last_day = today + timedelta(days=10), today + timedelta(days=20)

    def delegate(starts: int, ends: int, to: int = officer.id, lang: str = "th") -> object:
        return client.post(
            f"{API}/delegations",
            json={
                "delegate_id": to,
                "starts_on": (today + timedelta(days=starts)).isoformat(),
                "ends_on": (today + timedelta(days=ends)).isoformat(),
                "reason": "ไปราชการ",
            },
            headers={**headers["approver"], "Accept-Language": lang},
        )

    made = delegate(10, 20)
    assert made.status_code == 201, made.get_data(as_text=True)  # type: ignore[attr-defined]
    before = (_count(session), _created(session))
    for starts, ends in ((10, 20), (15, 25), (5, 10), (20, 30), (0, 40)):
        again = delegate(starts, ends)
        assert again.status_code == 409, (starts, ends)  # type: ignore[attr-defined]
        body = problem_of(again)
        assert format_be_date(first_day) in body["detail"], body
        assert format_be_date(last_day) in body["detail"], body
        assert "มอบอำนาจให้" in body["detail"], body
        assert set(body["errors"]) == {"starts_on", "ends_on"}
    english = problem_of(delegate(12, 13, lang="en"))
    assert english["detail"].startswith(
        f"{approver.name} has already delegated to {officer.name} from "
        f"{first_day.day} {first_day:%b} {first_day.year}"
    ), english
    assert (_count(session), _created(session)) == before

    # Days next to it, another deputy: no overlap.
    assert delegate(21, 25).status_code == 201  # type: ignore[attr-defined]
    assert delegate(5, 9).status_code == 201  # type: ignore[attr-defined]
    assert delegate(10, 20, to=school.id).status_code == 201  # type: ignore[attr-defined]
    # Withdrawn: the same days may be delegated again.
    ident = made.get_json()["id"]  # type: ignore[attr-defined]
    withdrawn = client.post(f"{API}/delegations/{ident}/withdraw", headers=headers["approver"])
    assert withdrawn.status_code == 200
    assert delegate(10, 20).status_code == 201  # type: ignore[attr-defined]


def test_an_ended_delegation_is_no_obstacle(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    approver, officer = user(session, "approver"), user(session, "officer")
    today = local_today()
    session.add(
        Delegation(
            principal=approver,
            delegate=officer,
            starts_on=today - timedelta(days=30),
            ends_on=today - timedelta(days=1),
            reason="เมื่อเดือนก่อน",
        )
    )
    session.commit()
    made = client.post(
        f"{API}/delegations",
        json={
            "delegate_id": officer.id,
            "starts_on": (today - timedelta(days=5)).isoformat(),
            "ends_on": (today + timedelta(days=5)).isoformat(),
        },
        headers=headers["approver"],
    )
    assert made.status_code == 201, made.get_data(as_text=True)


def test_the_admin_page_refuses_it_and_keeps_what_was_typed(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    client = login_as("admin")
    approver, officer = user(session, "approver"), user(session, "officer")
    token = csrf_token(client, "/admin/delegations")
    today = local_today()
    form = {
        "csrf_token": token,
        "principal_id": str(approver.id),
        "delegate_id": str(officer.id),
        "starts_on": (today + timedelta(days=1)).isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
        "reason": "ลาคลอด",
    }
    assert client.post("/admin/delegations", data=form).status_code == 302
    before = (_count(session), _created(session))
    typed = {
        **form,
        "starts_on": (today + timedelta(days=15)).isoformat(),
        "ends_on": (today + timedelta(days=45)).isoformat(),
        "reason": "ขยายเวลาลาคลอด",
    }
    refused = client.post("/admin/delegations", data=typed)
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    first, last = today + timedelta(days=1), today + timedelta(days=30)
    assert f"{format_be_date(first)} ถึง {format_be_date(last)}" in page
    assert f"{format_be_date(first)} – {format_be_date(last)}" in page
    assert "ถอนการมอบอำนาจนั้นก่อน" in page
    assert 'value="ขยายเวลาลาคลอด"' in page
    typed_end = today + timedelta(days=45)
    assert f'value="{typed_end.day}/{typed_end.month}/{typed_end.year + 543}"' in page
    assert 'id="starts_on" aria-invalid="true"' in page
    assert (_count(session), _created(session)) == before


def test_a_reason_longer_than_it_is_kept_comes_back_on_the_field(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """The page took a reason of any length: SQLite kept 10,000 characters in a column of
    500, PostgreSQL refused the row (an error page). It is refused on its field, as typed."""
    client = login_as("admin")
    approver, officer = user(session, "approver"), user(session, "officer")
    today = local_today()
    before = (_count(session), _created(session))
    refused = client.post(
        "/admin/delegations",
        data={
            "csrf_token": csrf_token(client, "/admin/delegations"),
            "principal_id": str(approver.id),
            "delegate_id": str(officer.id),
            "starts_on": (today + timedelta(days=1)).isoformat(),
            "ends_on": (today + timedelta(days=3)).isoformat(),
            "reason": "ก" * 10_000,
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "ไม่เกิน 500 ตัวอักษร" in page
    assert 'id="reason" aria-invalid="true"' in page and "ก" * 10_000 in page
    assert (_count(session), _created(session)) == before
