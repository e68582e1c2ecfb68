"""Deactivating an account already deactivated (a second press, a page left open, a script run
twice) changes nothing, writes no second audit row and says so on every door: the admin page
flashes that it was already deactivated (not "deactivated"), the API answers 409 problem+json
with the state, the command line prints the reason and exits 1 like its other refusals."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import User
from tests.api_support import headers_for, problem_of, rolled_back
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.work_data import audited

ADMIN = "admin@demo.tidtam.local"
SCHOOL = "school@demo.tidtam.local"


def _deactivations(session: Session, user_id: int) -> int:
    return audited(session, "user.deactivate", user_id)


def _school(session: Session) -> User:
    found = session.scalar(select(User).where(User.email == SCHOOL))
    assert found is not None
    return found


def test_the_page_says_it_was_already_deactivated(app: Flask) -> None:
    with rolled_back(app) as (session, client):
        school = _school(session)
        login(client, ADMIN, DEMO_PASSWORDS[ADMIN])
        token = csrf_token(client, "/admin/users")  # the page, then left open
        first = client.post(
            f"/admin/users/{school.id}/deactivate", data={"csrf_token": token, "confirm": "1"}
        )
        assert first.status_code == 302
        assert "ระงับบัญชีผู้ใช้แล้ว" in client.get("/admin/users").get_data(as_text=True)
        assert _deactivations(session, school.id) == 1
        version = session.scalar(select(User.session_version).where(User.id == school.id))

        stale = client.post(
            f"/admin/users/{school.id}/deactivate", data={"csrf_token": token, "confirm": "1"}
        )
        assert stale.status_code == 409
        page = stale.get_data(as_text=True)
        assert "ถูกระงับการใช้งานไปก่อนแล้ว" in page and SCHOOL in page
        assert "ระงับบัญชีผู้ใช้แล้ว" not in page
        assert _deactivations(session, school.id) == 1
        assert session.scalar(select(User.session_version).where(User.id == school.id)) == version


def test_the_api_answers_409_and_writes_nothing(app: Flask) -> None:
    with rolled_back(app) as (session, client):
        school = _school(session)
        headers = headers_for(session, "admin")
        session.commit()
        path = f"/api/v1/users/{school.id}/deactivate"
        first = client.post(path, headers=headers)
        assert first.status_code == 200 and first.get_json()["active"] is False
        again = client.post(path, headers={**headers, "Accept-Language": "en"})
        assert again.status_code == 409
        body = problem_of(again)
        assert body["state"] == "inactive", body
        assert body["detail"] == (
            f"the account of {school.name} ({SCHOOL}) was already deactivated: nothing changed"
        )
        assert _deactivations(session, school.id) == 1


def test_the_command_line_refuses_the_second_time(app: Flask) -> None:
    with rolled_back(app) as (session, _client):
        school = _school(session)
        runner = app.test_cli_runner()
        args = ["admin", "--lang", "en", "deactivate-user", SCHOOL, "--as", ADMIN]
        first = runner.invoke(args=args)
        assert first.exit_code == 0, first.output
        assert f"user {SCHOOL} deactivated" in first.output
        again = runner.invoke(args=args)
        assert again.exit_code == 1, again.output
        assert "Not done (409)" in again.output and "already deactivated" in again.output
        assert f"user {SCHOOL} deactivated" not in again.output
        assert _deactivations(session, school.id) == 1
