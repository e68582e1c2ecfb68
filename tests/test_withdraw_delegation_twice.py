"""Withdrawing a delegation already withdrawn (a second press, the admin page left open in
another tab, an API call repeated) changes nothing, writes no second audit row and says it was
withdrawn already: the page flashed "The delegation is withdrawn." again, the API answered 200.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.fiscal import local_today
from service.org.models import Delegation, User
from service.org.operations import create_delegation
from tests.api_support import headers_for, problem_of, rolled_back
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.work_data import audited

ADMIN = "admin@demo.tidtam.local"


def _people(session: Session) -> tuple[User, User, User]:
    def one(email: str) -> User:
        found = session.scalar(select(User).where(User.email == email))
        assert found is not None
        return found

    return (
        one(ADMIN),
        one("officer@demo.tidtam.local"),
        one("approver@demo.tidtam.local"),
    )


def _delegation(session: Session) -> Delegation:
    admin, officer, deputy = _people(session)
    today = local_today()
    made = create_delegation(
        session, admin, officer, deputy, today + timedelta(days=40), today + timedelta(days=45)
    )
    session.commit()
    return made


def _withdrawals(session: Session, ident: int) -> int:
    return audited(session, "delegation.withdraw", ident)


def test_the_page_says_it_was_withdrawn_already(app: Flask) -> None:
    with rolled_back(app) as (session, client):
        delegation = _delegation(session)
        login(client, ADMIN, DEMO_PASSWORDS[ADMIN])
        token = csrf_token(client, "/admin/delegations")  # the page, then left open
        path = f"/admin/delegations/{delegation.id}/withdraw"
        first = client.post(path, data={"csrf_token": token})
        assert first.status_code == 302
        assert "ถอนการมอบอำนาจแล้ว" in client.get("/admin/delegations").get_data(as_text=True)
        assert _withdrawals(session, delegation.id) == 1

        stale = client.post(path, data={"csrf_token": token})
        assert stale.status_code == 409
        page = stale.get_data(as_text=True)
        assert "ถูกถอนไปก่อนแล้ว" in page and "ถอนการมอบอำนาจแล้ว" not in page
        assert _withdrawals(session, delegation.id) == 1


def test_the_api_answers_409_and_writes_nothing(app: Flask) -> None:
    with rolled_back(app) as (session, client):
        delegation = _delegation(session)
        headers = headers_for(session, "admin")
        session.commit()
        path = f"/api/v1/delegations/{delegation.id}/withdraw"
        first = client.post(path, headers=headers)
        assert first.status_code == 200, first.get_data(as_text=True)
        again = client.post(path, headers={**headers, "Accept-Language": "en"})
        assert again.status_code == 409
        body = problem_of(again)
        assert body["state"] == "withdrawn", body
        assert "was already withdrawn" in body["detail"]
        assert _withdrawals(session, delegation.id) == 1
