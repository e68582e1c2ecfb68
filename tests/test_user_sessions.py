"""Sessions with a server-side record: each person sees where they are signed in (device,
address, last seen) and can end any of those sessions; an admin ends every session of a
person; the sign-in history, failures included, is the person's audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.auth.models import UserSession
from service.auth.sessions import describe_device
from service.core.db import utcnow
from service.org.models import Role, User
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.signin_support import PASSWORD, a_person, an_address, browser, post_login

ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 Chrome/129.0 Mobile Safari/537.36"
)


def test_a_person_sees_their_sessions_and_ends_one(app: Flask, session: Session) -> None:
    person = a_person(session, Role.OFFICER)
    laptop, phone = browser(app), browser(app, ANDROID)
    login(laptop, person.email, PASSWORD)
    login(phone, person.email, PASSWORD)
    page = laptop.get("/account?lang=en").get_data(as_text=True)
    assert "Firefox · Linux" in page and "Chrome · Android" in page
    assert page.count("data-session=") == 2
    assert "this device" in page
    phone_row = session.scalars(
        select(UserSession).where(UserSession.user_id == person.id).order_by(UserSession.id.desc())
    ).first()
    assert phone_row is not None
    token = csrf_token(laptop, "/account")
    ended = laptop.post(f"/account/sessions/{phone_row.id}/end", data={"csrf_token": token})
    assert ended.status_code == 302
    assert phone.get("/home").status_code == 302
    assert laptop.get("/home").status_code == 200


def test_nobody_ends_anothers_session(app: Flask, session: Session) -> None:
    victim, other = a_person(session), a_person(session)
    victims = browser(app)
    login(victims, victim.email, PASSWORD)
    row = session.scalar(select(UserSession).where(UserSession.user_id == victim.id))
    assert row is not None
    attacker = browser(app)
    login(attacker, other.email, PASSWORD)
    token = csrf_token(attacker, "/account")
    assert (
        attacker.post(f"/account/sessions/{row.id}/end", data={"csrf_token": token}).status_code
        == 404
    )
    assert victims.get("/home").status_code == 200


def test_an_admin_ends_every_session_of_a_person(app: Flask, session: Session) -> None:
    person = a_person(session, Role.OFFICER)
    ones = [browser(app), browser(app, ANDROID)]
    for one in ones:
        login(one, person.email, PASSWORD)
    admin = browser(app)
    login(admin, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
    page = f"/admin/users/{person.id}/sign-in"
    assert admin.get(page).get_data(as_text=True).count("data-session=") == 2
    ended = admin.post(
        f"/admin/users/{person.id}/sessions/end", data={"csrf_token": csrf_token(admin, page)}
    )
    assert ended.status_code == 302
    assert [one.get("/home").status_code for one in ones] == [302, 302]
    # An officer is no admin: the page is not theirs.
    officer = browser(app)
    login(officer, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    assert officer.get(page).status_code == 403


def test_a_deactivated_persons_page_lists_no_open_session(app: Flask, session: Session) -> None:
    """Deactivating shut the person's browsers out (their tab went to /login), yet their
    sign-in page still listed the sessions as open, with the button to end them all."""
    person = a_person(session, Role.OFFICER)
    ones = [browser(app), browser(app, ANDROID)]
    for one in ones:
        login(one, person.email, PASSWORD)
    admin = browser(app)
    login(admin, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
    page = f"/admin/users/{person.id}/sign-in"
    assert admin.get(page).get_data(as_text=True).count("data-session=") == 2
    done = admin.post(
        f"/admin/users/{person.id}/deactivate",
        data={"csrf_token": csrf_token(admin, page), "confirm": "1"},
    )
    assert done.status_code == 302
    assert [one.get("/home").status_code for one in ones] == [302, 302]
    listed = admin.get(page).get_data(as_text=True)
    assert "data-session=" not in listed
    assert f"/admin/users/{person.id}/sessions/end" not in listed
    ended = session.scalars(
        select(UserSession.ended_at).where(UserSession.user_id == person.id)
    ).all()
    assert len(ended) == 2 and None not in ended
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "user.deactivate", AuditEntry.object_id == person.id
        )
    ).one()
    assert entry.changes["sessions_ended"] == 2


def test_sessions_left_open_by_an_earlier_deactivation_are_not_listed(
    app: Flask, session: Session
) -> None:
    """Accounts deactivated before deactivation ended the rows kept them unended."""
    person = a_person(session, Role.OFFICER)
    login(browser(app), person.email, PASSWORD)
    session.execute(update(User).where(User.id == person.id).values(active=False))
    session.commit()
    admin = browser(app)
    login(admin, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
    listed = admin.get(f"/admin/users/{person.id}/sign-in").get_data(as_text=True)
    assert "data-session=" not in listed


def test_the_sign_in_history_keeps_failures(app: Flask, session: Session) -> None:
    person = a_person(session)
    address = an_address()
    assert (
        post_login(browser(app), person.email, "wrong-password", REMOTE_ADDR=address).status_code
        == 200
    )
    client = browser(app)
    login(client, person.email, PASSWORD)
    history = client.get("/account?lang=en").get_data(as_text=True)
    listed = re.findall(r'data-action="([\w.]+)"', history)
    assert listed[:2] == ["user.sign_in", "user.sign_in_failed"]
    assert address in history
    thai = client.get("/account?lang=th").get_data(as_text=True)
    assert "เข้าสู่ระบบไม่สำเร็จ" in thai


def test_last_seen_is_stamped_at_most_once_a_minute(app: Flask, session: Session) -> None:
    person = a_person(session)
    client = browser(app)
    login(client, person.email, PASSWORD)
    row = session.scalar(select(UserSession).where(UserSession.user_id == person.id))
    assert row is not None
    long_ago = utcnow() - timedelta(minutes=10)
    session.execute(
        update(UserSession).where(UserSession.id == row.id).values(last_seen_at=long_ago)
    )
    session.commit()
    assert client.get("/home").status_code == 200
    session.refresh(row)
    assert row.last_seen_at > long_ago + timedelta(minutes=9)


def test_a_stolen_cookie_of_an_ended_session_is_worthless(app: Flask, session: Session) -> None:
    person = a_person(session)
    client = browser(app)
    login(client, person.email, PASSWORD)
    stolen = client.get_cookie("session")
    assert stolen is not None
    client.post("/logout", data={"csrf_token": csrf_token(client, "/home")})
    thief = browser(app)
    thief.set_cookie("session", stolen.value)
    assert thief.get("/home").status_code == 302


def test_devices_are_named_from_the_user_agent() -> None:
    assert describe_device(ANDROID) == "Chrome · Android"
    assert (
        describe_device("Mozilla/5.0 (Windows NT 10.0) Chrome/129.0 Edg/129.0") == "Edge · Windows"
    )
    assert describe_device("") == "?"


def test_the_api_lists_a_persons_sessions_and_ends_one(app: Flask, session: Session) -> None:
    """GET /api/v1/me/sessions and POST …/end: what /account shows and does, audited the
    same; another person's session does not exist for the caller."""
    person, other = a_person(session, Role.OFFICER), a_person(session)
    laptop, phone = browser(app), browser(app, ANDROID)
    login(laptop, person.email, PASSWORD)
    login(phone, person.email, PASSWORD)
    listed = laptop.get("/api/v1/me/sessions")
    assert listed.status_code == 200
    rows = listed.get_json()
    assert sorted(row["device"] for row in rows) == ["Chrome · Android", "Firefox · Linux"]
    assert [row["current"] for row in rows if row["device"] == "Firefox · Linux"] == [True]
    assert {"address", "last_seen_at", "created_at", "method", "second_factor"} <= rows[0].keys()
    phone_id = next(row["id"] for row in rows if row["device"] == "Chrome · Android")

    token = csrf_token(laptop, "/account")
    headers = {"X-CSRFToken": token}
    assert laptop.post(f"/api/v1/me/sessions/{phone_id}/end").status_code == 400  # no CSRF
    assert laptop.post(f"/api/v1/me/sessions/{phone_id}/end", headers=headers).status_code == 204
    assert phone.get("/home").status_code == 302
    assert [row["device"] for row in laptop.get("/api/v1/me/sessions").get_json()] == [
        "Firefox · Linux"
    ]
    session.expire_all()
    ended = session.get(UserSession, phone_id)
    assert ended is not None and ended.ended_at is not None
    audited = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "user.session_end", AuditEntry.object_id == person.id
        )
    )
    assert audited is not None and audited.changes == {"session": phone_id}

    others = browser(app)
    login(others, other.email, PASSWORD)
    theirs = others.get("/api/v1/me/sessions").get_json()
    assert len(theirs) == 1
    stolen = laptop.post(f"/api/v1/me/sessions/{theirs[0]['id']}/end", headers=headers)
    assert stolen.status_code == 404
    assert others.get("/home").status_code == 200
