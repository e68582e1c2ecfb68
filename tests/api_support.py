"""Helpers for the API tests: a bearer token per role, the second school, demo lookups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.core.db import db
from service.org.models import OrgUnit, Role, User
from service.projects.models import Project

ROLES = ("anonymous", "school_a", "school_b", "officer", "approver", "evaluator", "admin")
SCHOOL_B_EMAIL = "school-b@test.tidtam.local"
SCHOOL_B_UNIT = "5023077201"  # โรงเรียนวัดพรหมรังษี, network 72


def user(session: Session, role: str) -> User:
    """The demo user of `role` ("school_a" is the demo school), or school B (made here)."""
    if role == "school_b":
        return school_b(session)
    email = f"{'school' if role == 'school_a' else role}@demo.tidtam.local"
    found = session.scalar(select(User).where(User.email == email))
    assert found is not None, email
    return found


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, code
    return found


def school_b(session: Session) -> User:
    """A school user at โรงเรียนวัดพรหมรังษี, made on first use (no scrypt: it never logs in)."""
    found = session.scalar(select(User).where(User.email == SCHOOL_B_EMAIL))
    if found is not None:
        return found
    found = User(email=SCHOOL_B_EMAIL, name="ครูบี โรงเรียนวัดพรหมรังษี", password_hash="!")
    session.add(found)
    session.flush()
    from service.org.models import RoleAssignment

    session.add(RoleAssignment(user=found, role=Role.SCHOOL, unit=unit(session, SCHOOL_B_UNIT)))
    session.flush()
    return found


def headers_for(session: Session, role: str) -> dict[str, str]:
    """Authorization headers of a fresh token for `role`; none for "anonymous"."""
    if role == "anonymous":
        return {}
    _row, token = new_token(session, user(session, role), f"test {role}")
    session.flush()
    return {"Authorization": f"Bearer {token}"}


def all_headers(session: Session) -> dict[str, dict[str, str]]:
    headers = {role: headers_for(session, role) for role in ROLES}
    session.commit()
    return headers


def demo_project(session: Session) -> Project:
    found = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert found is not None
    return found


def problem_of(response: Any) -> dict[str, Any]:
    """The problem+json body of `response`, checked for its shape."""
    assert response.mimetype == "application/problem+json", (
        response.status_code,
        response.get_data(as_text=True)[:300],
    )
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == response.status_code
    assert body["title"] and body["detail"]
    return body


@contextmanager
def rolled_back(app: Flask) -> Iterator[tuple[Session, FlaskClient]]:
    """What the `session` and `client` fixtures give, for code that runs many times in one
    test (Hypothesis examples): everything is rolled back when the block ends."""
    engine: Engine = app.extensions["tidtam.db"]
    connection = engine.connect()
    transaction = connection.begin()
    db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = db.sessionmaker()
    try:
        yield session, app.test_client()
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        db.sessionmaker.configure(bind=engine, join_transaction_mode="conditional_savepoint")
