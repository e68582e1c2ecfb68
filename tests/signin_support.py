"""Helpers for the sign-in tests: a fresh person to sign in as, the pages' CSRF token,
a second browser."""

from __future__ import annotations

import random
import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from service.org.models import OrgUnit, Role, User
from service.org.operations import create_user, grant_role
from tests.conftest import csrf_token

PASSWORD = "granite-lantern-orbit-66"


def a_person(session: Session, role: Role | None = None, *, name: str = "Somchai Jaidee") -> User:
    """A new active account (password PASSWORD), holding `role` at the demo's root unit."""
    email = f"p-{uuid.uuid4().hex[:10]}@demo.tidtam.local"
    user = create_user(session, email=email, name=name, password=PASSWORD)
    # A cheap hash for the tests' many sign-ins (scrypt takes half a second on a busy
    # machine); what the service writes when a password changes is still scrypt.
    user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    if role is not None:
        root = session.scalar(
            select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id)
        )
        assert root is not None
        grant_role(session, user, role, root)
    session.commit()
    return user


def an_address() -> str:
    """A client address no other test counts failed attempts against."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def post_login(client: FlaskClient, email: str, password: str, **environ: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_overrides=environ or None,
    )


def browser(
    app: Flask, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client


def form_token(page: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)
