"""Passwords people can recover: change one's own (with the current one), an admin's
temporary password that must be changed at the next sign-in (page, API and command line),
"forgot password" mailing a one-use, expiring link through a real SMTP server, and a policy
that refuses short, common and personal passwords in Thai and English. Changing or resetting
ends every other session of the person."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask import Flask
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.admin.commands import admin_cli
from service.audit.models import AuditEntry
from service.auth import passwords
from service.auth.reset import SALT, reset_token, send_reset_mail
from service.extensions import limiter
from service.org.models import Role, User
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.signin_support import PASSWORD, a_person, an_address, browser, post_login
from tests.smtp import mail_sink
from tests.stack import committed_stack
from tests.workers import running_worker

NEW = "violet-harbour-pencil-42"


def _actions(session: Session, user: User) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "user", AuditEntry.object_id == user.id)
            .order_by(AuditEntry.id)
        )
    )


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "at least 10 characters"),
        ("password123", "most common"),
        ("qwertyuiop", "most common"),
        ("somchai-2566-xx", "your name or e-mail"),
        ("jaidee!!2024zz", "your name or e-mail"),
        # ten spaces and one letter was taken, and signed in
        ("          x", "besides spaces repeated or at its ends"),
        ("x          ", "besides spaces repeated or at its ends"),
        ("a         b", "besides spaces repeated or at its ends"),
        ("            ", "different characters"),
        ("aaaaaaaaaaaa", "at least 5 different characters"),
        ("abababababab", "at least 5 different characters"),
        ("ab ab ab ab ab", "at least 5 different characters"),
    ],
)
def test_the_policy_names_what_is_wrong(app: Flask, password: str, problem: str) -> None:
    with app.test_request_context("/?lang=en"):
        found = passwords.problems(password, name="Somchai Jaidee", email="somchai@example.org")
    assert any(problem in text for text in found), found


@pytest.mark.parametrize(
    "password",
    ["violet harbour pencil", "ม้าลาย กินหญ้า ริมน้ำ", "sun moon tide 42", "Tr0ub4dor&3xyz"],
)
def test_passphrases_with_single_spaces_between_words_are_fine(app: Flask, password: str) -> None:
    with app.test_request_context("/?lang=en"):
        assert passwords.problems(password, name="Somchai Jaidee", email="s@example.org") == []


def test_a_padded_password_is_refused_in_thai_on_the_page(app: Flask, session: Session) -> None:
    person = a_person(session)
    client = browser(app)
    login(client, person.email, PASSWORD)
    padded = "          x"
    answer = client.post(
        "/account/password?lang=th",
        data={
            "current_password": PASSWORD,
            "new_password": padded,
            "confirm": padded,
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "ไม่นับช่องว่าง" in page and "ตัวอักษรที่ต่างกัน" in page
    login(browser(app), person.email, PASSWORD)  # the password is unchanged


def test_the_policy_speaks_thai(app: Flask) -> None:
    with app.test_request_context("/"):
        found = passwords.problems("password123", name="ก", email="a@b.c")
    assert found and all(re.search("[ก-๙]", text) for text in found), found
    assert len(passwords.common_passwords()) == 10_000


def test_changing_ones_password_ends_the_other_sessions(app: Flask, session: Session) -> None:
    person = a_person(session)
    laptop, phone = browser(app), browser(app, "Mozilla/5.0 (Linux; Android 14) Chrome/129.0")
    login(laptop, person.email, PASSWORD)
    login(phone, person.email, PASSWORD)
    token = csrf_token(laptop, "/account/password")

    wrong = laptop.post(
        "/account/password?lang=en",
        data={
            "current_password": "not-it",
            "new_password": NEW,
            "confirm": NEW,
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 422
    assert "the current password is not right" in wrong.get_data(as_text=True)
    common = laptop.post(
        "/account/password?lang=th",
        data={
            "current_password": PASSWORD,
            "new_password": "1234567890",
            "confirm": "1234567890",
            "csrf_token": token,
        },
    )
    assert common.status_code == 422
    assert "รหัสผ่านที่ใช้กันมากที่สุด" in common.get_data(as_text=True)  # and in Thai

    done = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW,
            "confirm": NEW,
            "csrf_token": token,
        },
    )
    assert done.status_code == 302
    assert laptop.get("/home").status_code == 200  # this browser stays signed in
    assert phone.get("/home").status_code == 302  # the other one is out
    assert (
        post_login(browser(app), person.email, PASSWORD, REMOTE_ADDR=an_address()).status_code
        == 200
    )
    login(browser(app), person.email, NEW)
    assert "user.password_change" in _actions(session, person)


def test_an_admins_temporary_password_must_be_changed_first(app: Flask, session: Session) -> None:
    person = a_person(session, Role.OFFICER)
    theirs = browser(app)
    login(theirs, person.email, PASSWORD)
    admin = browser(app)
    login(admin, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
    page = f"/admin/users/{person.id}/sign-in"
    token = csrf_token(admin, page)

    weak = admin.post(
        f"/admin/users/{person.id}/temporary-password",
        data={"password": "password1", "csrf_token": token},
    )
    assert weak.status_code == 422
    set_ = admin.post(
        f"/admin/users/{person.id}/temporary-password",
        data={"password": "temporary-ocean-7731", "csrf_token": token},
    )
    assert set_.status_code == 302
    assert theirs.get("/home").status_code == 302  # their session ended

    fresh = browser(app)
    login(fresh, person.email, "temporary-ocean-7731")
    assert fresh.get("/home").headers["Location"].endswith("/account/password")
    assert fresh.get("/notifications").headers["Location"].endswith("/account/password")
    assert fresh.get("/api/v1/me").status_code == 401  # the API from the browser too
    token = csrf_token(fresh, "/account/password")
    changed = fresh.post(
        "/account/password",
        data={
            "current_password": "temporary-ocean-7731",
            "new_password": NEW,
            "confirm": NEW,
            "csrf_token": token,
        },
    )
    assert changed.status_code == 302
    assert fresh.get("/home").status_code == 200
    actions = _actions(session, person)
    assert actions.index("user.password_set") < actions.index("user.password_change")
    history = admin.get(page + "?lang=en").get_data(as_text=True)
    assert "Temporary password set by an admin" in history


def test_the_api_and_the_command_line_set_temporary_passwords_too(
    app: Flask, session: Session
) -> None:
    from service.admin.operations import create_token

    person = a_person(session, Role.OFFICER)
    admin = session.scalar(select(User).where(User.email == "admin@demo.tidtam.local"))
    assert admin is not None
    _row, token = create_token(session, admin, admin, "sign-in test")
    session.commit()
    api = app.test_client()
    answer = api.post(
        f"/api/v1/users/{person.id}/temporary-password",
        json={"password": "api-temporary-9981"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["password_must_change"] is True
    result = app.test_cli_runner().invoke(
        admin_cli,
        [
            "set-temporary-password",
            "--as",
            "admin@demo.tidtam.local",
            person.email,
            "--password",
            "cli-temporary-1234",
        ],
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert _actions(session, person).count("user.password_set") == 2
    login(browser(app), person.email, "cli-temporary-1234")


def test_forgot_password_mails_a_one_use_link(app: Flask, session: Session) -> None:
    person = a_person(session)
    other = browser(app)
    login(other, person.email, PASSWORD)
    limiter.reset()
    client = browser(app)
    token = csrf_token(client, "/password/forgot")
    answers = [
        client.post("/password/forgot?lang=en", data={"email": email, "csrf_token": token})
        for email in (person.email, "nobody-here@demo.tidtam.local")
    ]
    # The same answer whether or not an account has the address.
    assert [a.status_code for a in answers] == [302, 302]
    flashes = [client.get("/login?lang=en").get_data(as_text=True) for _ in answers]
    assert "If an account has this e-mail" in flashes[0]
    assert "user.password_reset_request" in _actions(session, person)

    # The worker's task, against a real SMTP server.
    with mail_sink() as sink:
        app.config.update(MAIL_SERVER=sink.host, MAIL_PORT=sink.port)
        try:
            with app.app_context():
                assert send_reset_mail(session, person.id)
        finally:
            app.config.update(MAIL_SERVER="localhost", MAIL_PORT=1025)
        mail = sink.wait_for(1)[0]
    assert mail.to == [person.email]
    assert "ตั้งรหัสผ่านใหม่" in mail.subject
    link = re.search(r"https?://\S+/password/reset/(\S+)", mail.body)
    assert link, mail.body
    path = f"/password/reset/{link.group(1)}"

    form = client.get(path)
    assert form.status_code == 200
    token = csrf_token(client, path)
    mismatch = client.post(
        path, data={"new_password": NEW, "confirm": NEW + "x", "csrf_token": token}
    )
    assert mismatch.status_code == 422
    done = client.post(path, data={"new_password": NEW, "confirm": NEW, "csrf_token": token})
    assert done.status_code == 302
    assert other.get("/home").status_code == 302  # every session ended
    assert client.get(path).status_code == 410  # one use
    login(browser(app), person.email, NEW)
    assert "user.password_reset" in _actions(session, person)


def test_a_reset_link_expires_and_cannot_be_forged(app: Flask, session: Session) -> None:
    person = a_person(session)
    client = browser(app)
    with app.app_context():
        good = reset_token(person)
        forged = URLSafeTimedSerializer("not-our-key", salt=SALT).dumps({"u": person.id, "f": "x"})
    assert client.get(f"/password/reset/{forged}").status_code == 410
    app.config["PASSWORD_RESET_MAX_AGE_MINUTES"] = 0
    try:
        time.sleep(1.1)
        assert client.get(f"/password/reset/{good}").status_code == 410
    finally:
        app.config["PASSWORD_RESET_MAX_AGE_MINUTES"] = 30
    assert client.get(f"/password/reset/{good}").status_code == 200


def test_forgot_password_is_rate_limited(app: Flask, session: Session) -> None:
    limiter.reset()
    client = browser(app)
    token = csrf_token(client, "/password/forgot")
    codes = [
        client.post(
            "/password/forgot", data={"email": "same@demo.tidtam.local", "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [302, 302, 302, 429]


@pytest.mark.worker
def test_a_real_worker_mails_the_link(tmp_path: Path, app: Flask) -> None:
    """The whole way: the page commits the request, a real Celery worker makes and mails
    the link through a real SMTP server, the link sets the password."""
    with mail_sink() as sink, committed_stack(tmp_path, "reset", **sink.env()) as stack:
        client = stack.app.test_client()
        token = csrf_token(client, "/password/forgot")
        asked = client.post(
            "/password/forgot", data={"email": "officer@demo.tidtam.local", "csrf_token": token}
        )
        assert asked.status_code == 302
        with running_worker(stack.env, queues="notifications", log=tmp_path / "worker.log"):
            mail = sink.wait_for(1, timeout=60)[0]
        assert mail.to == ["officer@demo.tidtam.local"]
        link = re.search(r"https?://\S+(/password/reset/\S+)", mail.body)
        assert link, mail.body
        token = csrf_token(client, link.group(1))
        done = client.post(
            link.group(1), data={"new_password": NEW, "confirm": NEW, "csrf_token": token}
        )
        assert done.status_code == 302
        login(client, "officer@demo.tidtam.local", NEW)
