"""The rules a new delegation meets, on every door (the admin page, what was typed kept, and
the API, problem+json in Thai or English), nothing written when refused:

- one delegation at a time from a person to the same deputy: a second one whose days overlap a
  delegation neither withdrawn nor ended is refused (409), naming the existing one's dates; a
  withdrawn or an ended one, another deputy, or days next to it (not on it) are no obstacle;
- a delegation whose last day has already passed lets nobody act for anyone: refused (422, on
  its last day's field); one that began in the past and lasts until today or later is a
  delegation in force and is accepted."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.fiscal import local_today
from service.core.thai import format_be_date
from service.org.models import Delegation
from tests.api_support import all_headers, problem_of, user
from tests.conftest import csrf_token
from tests.work_data import audited

API = "/api/v1"


def _written(session: Session) -> tuple[int, int]:
    """How many delegations there are, and how many were recorded made."""
    delegations = session.scalar(select(func.count(Delegation.id)))
    return int(delegations or 0), audited(session, "delegation.create")


def _api_delegate(
    client: FlaskClient, headers: dict[str, str], to: int, starts: int, ends: int, lang: str
) -> Any:
    """The approver delegates to `to` from `starts` to `ends` days from today, through the API."""
    today = local_today()
    return client.post(
        f"{API}/delegations",
        json={
            "delegate_id": to,
            "starts_on": (today + timedelta(days=starts)).isoformat(),
            "ends_on": (today + timedelta(days=ends)).isoformat(),
            "reason": "ไปราชการ",
        },
        headers={**headers, "Accept-Language": lang},
    )


def _page_form(
    client: FlaskClient, session: Session, starts_on: date, ends_on: date, reason: str
) -> dict[str, str]:
    """The admin page's form: the approver delegates to the officer."""
    return {
        "csrf_token": csrf_token(client, "/admin/delegations"),
        "principal_id": str(user(session, "approver").id),
        "delegate_id": str(user(session, "officer").id),
        "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(),
        "reason": reason,
    }


def test_the_api_refuses_an_overlapping_delegation_to_the_same_deputy(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    approver, officer = user(session, "approver"), user(session, "officer")
    from service.org.models import Role
    from service.org.operations import create_user, grant_role
    from service.org.scope import active_roles

    deputy = create_user(  # the division's other officer
        session, email="officer-b@t.local", name="เจ้าหน้าที่สอง", password="officer-b-pass-2566"
    )
    grant_role(session, deputy, Role.OFFICER, active_roles(session, officer)[0].unit)
    session.commit()
    today = local_today()
    first_day, last_day = today + timedelta(days=10), today + timedelta(days=20)

    def delegate(starts: int, ends: int, to: int = officer.id, lang: str = "th") -> Any:
        return _api_delegate(client, headers["approver"], to, starts, ends, lang)

    made = delegate(10, 20)
    assert made.status_code == 201, made.get_data(as_text=True)  # type: ignore[attr-defined]
    before = _written(session)
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
    assert _written(session) == before

    # Days next to it, another deputy: no overlap.
    assert delegate(21, 25).status_code == 201  # type: ignore[attr-defined]
    assert delegate(5, 9).status_code == 201  # type: ignore[attr-defined]
    assert delegate(10, 20, to=deputy.id).status_code == 201  # type: ignore[attr-defined]
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
    today = local_today()
    form = _page_form(
        client, session, today + timedelta(days=1), today + timedelta(days=30), "ลาคลอด"
    )
    assert client.post("/admin/delegations", data=form).status_code == 302
    # its reason may be one long word: its cell wraps it rather than running off a phone
    listed = client.get("/admin/delegations").get_data(as_text=True)
    assert 'class="wrap-anywhere">ลาคลอด</td>' in listed
    before = _written(session)
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
    assert _written(session) == before


def test_a_reason_longer_than_it_is_kept_comes_back_on_the_field(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """The page took a reason of any length: SQLite kept 10,000 characters in a column of
    500, PostgreSQL refused the row (an error page). It is refused on its field, as typed."""
    client = login_as("admin")
    today = local_today()
    before = _written(session)
    typed = _page_form(
        client, session, today + timedelta(days=1), today + timedelta(days=3), "ก" * 10_000
    )
    refused = client.post("/admin/delegations", data=typed)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "ไม่เกิน 500 ตัวอักษร" in page
    assert 'id="reason" aria-invalid="true"' in page and "ก" * 10_000 in page
    assert _written(session) == before


def test_the_api_refuses_a_delegation_that_has_already_ended(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    officer = user(session, "officer")

    def delegate(starts: int, ends: int, lang: str = "th") -> Any:
        return _api_delegate(client, headers["approver"], officer.id, starts, ends, lang)

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


def test_the_admin_page_refuses_an_ended_delegation_and_keeps_what_was_typed(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    client = login_as("admin")
    today = local_today()
    first, last = today - timedelta(days=20), today - timedelta(days=3)
    before = _written(session)
    typed = _page_form(client, session, first, last, "ลาพักร้อนที่ผ่านมาแล้ว")
    refused = client.post("/admin/delegations", data=typed)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "วันสุดท้ายต้องเป็นวันนี้หรือหลังจากนี้" in page
    assert 'id="ends_on" aria-invalid="true"' in page
    assert 'value="ลาพักร้อนที่ผ่านมาแล้ว"' in page
    for day in (first, last):
        assert f'value="{day.day}/{day.month}/{day.year + 543}"' in page
    assert _written(session) == before


def test_the_form_offers_active_people_with_their_email_and_a_deactivated_one_is_named(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """The principal and deputy lists offered deactivated accounts and accounts holding no
    role, by name only; a deactivated deputy was refused as holding no role there."""
    from service.org.operations import create_user

    client = login_as("admin")
    officer, approver = user(session, "officer"), user(session, "approver")
    roleless = create_user(
        session, email="no-role@demo.tidtam.local", name="ไม่มีบทบาท", password="long-enough-1"
    )
    page = client.get("/admin/delegations").get_data(as_text=True)
    form = page.split('id="principal_id"')[1].split("</select>")[0]
    assert f">{officer.name} ({officer.email})</option>" in form
    assert f'value="{roleless.id}"' not in form

    officer.active = False
    session.flush()
    form = client.get("/admin/delegations").get_data(as_text=True)
    for select_id in ("principal_id", "delegate_id"):
        options = form.split(f'id="{select_id}"')[1].split("</select>")[0]
        assert f'value="{officer.id}"' not in options and f'value="{approver.id}"' in options

    today = local_today()
    typed = _page_form(client, session, today, today + timedelta(days=5), "ลาป่วย")
    before = _written(session)
    refused = client.post("/admin/delegations", data=typed)
    assert refused.status_code == 422
    answer = refused.get_data(as_text=True)
    assert f"บัญชีของ {officer.name} ถูกระงับการใช้งาน" in answer
    assert 'id="delegate_id-error"' in answer and "ไม่มีบทบาทที่นั่น" not in answer
    assert _written(session) == before


def test_the_api_refuses_a_deactivated_deputy_as_deactivated(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    deputy = user(session, "officer")
    deputy.active = False
    session.commit()
    answer = _api_delegate(client, headers["approver"], deputy.id, 0, 5, "en")
    assert answer.status_code == 422
    body = problem_of(answer)
    assert f"the account of {deputy.name} is deactivated" in body["detail"], body
