"""The second factor: approvers and admins enrol a TOTP app (QR code as inline SVG) at their
next sign-in when the deployment requires it; a code or a one-use recovery code opens the
session; a device can be remembered, until the password changes; API tokens are made only
from a session that gave the second factor."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.admin.operations import create_token
from service.audit.models import AuditEntry
from service.auth.models import UserSession
from service.auth.second_factor import open_secret, seal_secret, secret_box
from service.extensions import limiter
from service.org.models import Role, User
from service.workflow.engine import Refused
from tests.conftest import csrf_token
from tests.signin_support import PASSWORD, a_person, browser, post_login


@pytest.fixture
def required(app: Flask) -> Iterator[None]:
    app.config["TWO_FACTOR_REQUIRED"] = True
    limiter.reset()
    try:
        yield
    finally:
        app.config["TWO_FACTOR_REQUIRED"] = False


def _enrol(client: FlaskClient, user: User) -> tuple[str, list[str]]:
    """Sign in as `user` for the first time: scan, type the code; the secret and the
    recovery codes shown."""
    assert (
        post_login(client, user.email, PASSWORD)
        .headers["Location"]
        .endswith("/login/second-factor")
    )
    page = client.get("/login/second-factor").get_data(as_text=True)
    assert "<svg" in page and "<img" not in page  # the QR code is inline, no request made
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret
    token = csrf_token(client, "/login/second-factor")
    shown = client.post(
        "/login/second-factor",
        data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": token},
    )
    assert shown.status_code == 200
    codes = re.findall(r"<code>([a-z0-9-]{14})</code>", shown.get_data(as_text=True))
    assert len(codes) == 10
    return secret.group(1), codes


def _assert_sealed(app: Flask, session: Session, user: User, secret: str) -> None:
    """The column holds `secret` only encrypted: not the base32, in any case, and it opens
    with this deployment's key."""
    stored = session.scalar(
        text("SELECT totp_secret FROM app_user WHERE id = :id"), {"id": user.id}
    )
    assert stored and secret not in stored and secret.lower() not in stored.lower()
    assert secret_box(app.config["SECRET_KEY"]).decrypt(stored.encode()).decode() == secret


def _next_code(secret: str) -> str:
    """The code of the next 30 s step (accepted: clocks drift), later than the one enrolled."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _code_step(client: FlaskClient, code: str, remember: bool = False):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/login/second-factor")
    data = {"code": code, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/login/second-factor", data=data)


def test_an_approver_enrols_then_signs_in_with_a_code(
    app: Flask, session: Session, required: None
) -> None:
    approver = a_person(session, Role.APPROVER)
    first = browser(app)
    secret, _codes = _enrol(first, approver)
    assert first.get("/home").status_code == 200
    session.expire_all()
    _assert_sealed(app, session, approver, secret)

    later = browser(app)
    post_login(later, approver.email, PASSWORD)
    assert later.get("/home").status_code == 302  # not signed in by the password alone
    wrong = _code_step(later, "000000")
    assert wrong.status_code == 422
    # The code just used to enrol is spent; the next one opens the session, once.
    spent = _code_step(later, pyotp.TOTP(secret).now())
    assert spent.status_code == 422
    # said as it is: typed again within its half minute, not "wrong"
    assert "รหัสนี้ใช้ไปแล้ว" in spent.get_data(as_text=True)
    assert "รหัสนี้ใช้ไปแล้ว" not in wrong.get_data(as_text=True)
    done = _code_step(later, _next_code(secret))
    assert done.status_code == 302
    assert later.get("/home").status_code == 200
    row = session.scalars(
        select(UserSession)
        .where(UserSession.user_id == approver.id)
        .order_by(UserSession.id.desc())
    ).first()
    assert row is not None and row.second_factor
    failures = session.scalars(
        select(AuditEntry.changes).where(
            AuditEntry.object_id == approver.id, AuditEntry.action == "user.sign_in_failed"
        )
    ).all()
    assert {"why": "second_factor", "address": "127.0.0.1"} in failures
    replayed = browser(app)
    post_login(replayed, approver.email, PASSWORD)
    assert _code_step(replayed, _next_code(secret)).status_code == 422


def test_a_recovery_code_works_once(app: Flask, session: Session, required: None) -> None:
    admin = a_person(session, Role.ADMIN)
    _secret, codes = _enrol(browser(app), admin)
    first = browser(app)
    post_login(first, admin.email, PASSWORD)
    assert _code_step(first, codes[0].upper()).status_code == 302
    again = browser(app)
    post_login(again, admin.email, PASSWORD)
    assert _code_step(again, codes[0]).status_code == 422


def test_an_officer_is_not_asked_unless_enrolled(
    app: Flask, session: Session, required: None
) -> None:
    officer = a_person(session, Role.OFFICER)
    client = browser(app)
    assert post_login(client, officer.email, PASSWORD).headers["Location"].endswith("/home")
    assert client.get("/account").status_code == 200


def test_a_remembered_device_skips_the_code_until_the_password_changes(
    app: Flask, session: Session, required: None
) -> None:
    approver = a_person(session, Role.APPROVER)
    secret, _codes = _enrol(browser(app), approver)
    device = browser(app)
    post_login(device, approver.email, PASSWORD)
    assert _code_step(device, _next_code(secret), remember=True).status_code == 302
    device.post("/logout", data={"csrf_token": csrf_token(device, "/home")})
    # Signed out, the device is still remembered: the password is enough on it.
    assert post_login(device, approver.email, PASSWORD).headers["Location"].endswith("/home")
    # Another browser is asked.
    assert (
        post_login(browser(app), approver.email, PASSWORD)
        .headers["Location"]
        .endswith("/login/second-factor")
    )
    # A password change forgets every remembered device.
    token = csrf_token(device, "/account/password")
    new = "marble-compass-thunder-5"
    changed = device.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": new,
            "confirm": new,
            "csrf_token": token,
        },
    )
    assert changed.status_code == 302
    device.post("/logout", data={"csrf_token": csrf_token(device, "/home")})
    assert (
        post_login(device, approver.email, new).headers["Location"].endswith("/login/second-factor")
    )


def test_api_tokens_need_the_second_factor(app: Flask, session: Session, required: None) -> None:
    approver = a_person(session, Role.APPROVER)
    # Before enrolling (a required role), no token from anywhere.
    with app.app_context(), pytest.raises(Refused, match="second factor"):
        create_token(session, approver, approver, "script")
    session.rollback()
    client = browser(app)
    _enrol(client, approver)
    token = csrf_token(client, "/home")
    made = client.post("/api/v1/tokens", json={"name": "nightly"}, headers={"X-CSRFToken": token})
    assert made.status_code == 201, made.get_data(as_text=True)
    secret = made.get_json()["token"]
    # The token itself works (unaffected), but cannot make more tokens.
    bearer = {"Authorization": f"Bearer {secret}"}
    api = app.test_client()
    assert api.get("/api/v1/me", headers=bearer).status_code == 200
    assert api.post("/api/v1/tokens", json={"name": "more"}, headers=bearer).status_code == 403


def test_enrolling_from_the_account_page(app: Flask, session: Session) -> None:
    officer = a_person(session, Role.OFFICER)
    client = browser(app)
    post_login(client, officer.email, PASSWORD)
    page = client.get("/account/second-factor?lang=en").get_data(as_text=True)
    # Chosen, not asked by the role: the page does not say the role asks for it.
    assert "From now on, signing in will ask" in page and "Your role asks" not in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret
    token = csrf_token(client, "/account/second-factor")
    shown = client.post(
        "/account/second-factor",
        data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": token},
    )
    assert shown.status_code == 200
    assert 'data-second-factor="on"' in client.get("/account").get_data(as_text=True)
    # From now on the officer is asked too.
    assert (
        post_login(browser(app), officer.email, PASSWORD)
        .headers["Location"]
        .endswith("/login/second-factor")
    )


def test_wrong_codes_are_rate_limited(app: Flask, session: Session, required: None) -> None:
    approver = a_person(session, Role.APPROVER)
    secret, _codes = _enrol(browser(app), approver)
    guesser = browser(app)
    post_login(guesser, approver.email, PASSWORD)
    answers = [_code_step(guesser, f"{n:06d}").status_code for n in range(6)]
    assert answers == [422] * 5 + [429]
    assert _code_step(guesser, _next_code(secret)).status_code == 429


def test_an_admin_resets_a_lost_phone(app: Flask, session: Session, required: None) -> None:
    approver = a_person(session, Role.APPROVER)
    _enrol(browser(app), approver)
    admin = session.scalar(select(User).where(User.email == "admin@demo.tidtam.local"))
    assert admin is not None
    from service.admin.operations import reset_second_factor

    reset_second_factor(session, admin, approver)
    session.commit()
    # The approver enrols afresh at the next sign-in.
    secret, _codes = _enrol(browser(app), approver)
    session.expire_all()
    _assert_sealed(app, session, approver, secret)
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "user", AuditEntry.object_id == approver.id
        )
    ).all()
    assert actions.count("user.totp_enrol") == 2 and "user.totp_reset" in actions


def test_a_secret_sealed_under_another_key_opens_to_nothing(app: Flask) -> None:
    """After SECRET_KEY changes, a stored secret gives no code (the person uses a recovery
    code or an admin resets the factor) rather than an error page."""
    secret = pyotp.random_base32()
    with app.app_context():
        assert open_secret(seal_secret(secret)) == secret
        assert open_secret(secret_box("another key").encrypt(secret.encode()).decode()) is None


def _account_enrol_page(client: FlaskClient) -> str:
    page = client.get("/account/second-factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret
    return secret.group(1)


def _account_code(client: FlaskClient, code: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/account/second-factor")
    return client.post("/account/second-factor?lang=th", data={"code": code, "csrf_token": token})


THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def test_a_code_typed_in_thai_or_full_width_digits_is_the_code(
    app: Flask, session: Session
) -> None:
    """The right code typed on the Thai keyboard (๔๘๒๗๑๓) was refused as not matching."""
    officer = a_person(session, Role.OFFICER)
    client = browser(app)
    post_login(client, officer.email, PASSWORD)
    secret = _account_enrol_page(client)
    typed = pyotp.TOTP(secret).now().translate(THAI_DIGITS)
    shown = _account_code(client, f" {typed[:3]} {typed[3:]} ")
    assert shown.status_code == 200, shown.get_data(as_text=True)[:3000]
    assert "รหัสไม่ถูกต้อง" not in shown.get_data(as_text=True)

    # the sign-in's code page reads them alike
    later = browser(app)
    post_login(later, officer.email, PASSWORD)
    assert _code_step(later, _next_code(secret).translate(FULL_WIDTH_DIGITS)).status_code == 302
    assert later.get("/home").status_code == 200


def test_enrolling_from_the_account_page_allows_as_many_wrong_codes_as_signing_in(
    app: Flask, session: Session
) -> None:
    """Twelve wrong codes, then the right one, enrolled: the sign-in's code page answers 429
    after five."""
    limiter.reset()
    officer = a_person(session, Role.OFFICER)
    client = browser(app)
    post_login(client, officer.email, PASSWORD)
    secret = _account_enrol_page(client)
    answers = [_account_code(client, f"{n:06d}").status_code for n in range(6)]
    assert answers == [422] * 5 + [429]
    assert _account_code(client, pyotp.TOTP(secret).now()).status_code == 429
    session.expire_all()
    assert session.get(User, officer.id).totp_secret is None  # type: ignore[union-attr]
    limiter.reset()


def test_turning_the_second_factor_off_allows_as_many_wrong_codes_as_signing_in(
    app: Flask, session: Session
) -> None:
    """Turning it off took a code with no limit: any number of guesses."""
    limiter.reset()
    officer = a_person(session, Role.OFFICER)
    client = browser(app)
    post_login(client, officer.email, PASSWORD)
    secret = _account_enrol_page(client)
    assert _account_code(client, pyotp.TOTP(secret).now()).status_code == 200

    def off(code: str) -> int:
        token = csrf_token(client, "/account")
        return client.post(
            "/account/second-factor/off", data={"code": code, "csrf_token": token}
        ).status_code

    answers = [off(f"{n:06d}") for n in range(6)]
    assert answers == [302] * 5 + [429]
    assert off(_next_code(secret)) == 429
    session.expire_all()
    assert session.get(User, officer.id).totp_secret is not None  # type: ignore[union-attr]
    limiter.reset()


@pytest.mark.parametrize("code", ["", "   "])
def test_a_missing_code_is_named_at_the_code_box(app: Flask, session: Session, code: str) -> None:
    """An empty or spaces-only code reloaded the page without a word."""
    limiter.reset()
    officer = a_person(session, Role.OFFICER)
    client = browser(app)
    post_login(client, officer.email, PASSWORD)
    _account_enrol_page(client)
    answer = _account_code(client, code)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="code-error"' in page and "รหัส 6 หลัก" in page
    assert 'aria-describedby="code-error"' in page
    wrong = _account_code(client, "000000").get_data(as_text=True)
    assert 'id="code-error"' in wrong  # a wrong code is named at the box too
    limiter.reset()


def test_a_missing_code_is_named_at_the_sign_in_code_box(
    app: Flask, session: Session, required: None
) -> None:
    approver = a_person(session, Role.APPROVER)
    _enrol(browser(app), approver)
    later = browser(app)
    post_login(later, approver.email, PASSWORD)
    answer = _code_step(later, "  ")
    assert answer.status_code == 422
    assert 'id="code-error"' in answer.get_data(as_text=True)
    assert later.get("/home").status_code == 302
