"""The server-side half of every session cookie, read with the signed-in person.

The cookie (Flask's, signed with SECRET_KEY) holds "user id : session generation : key". Each
request reads the person, their active roles and their `user_session` row in one statement
(`signed_in`); the row must exist, not be ended, and the generation must be the person's
current one. Ending a row ends that browser's session; bumping the generation (a password
change or reset, a deactivation) ends them all, and forgets remembered devices too.

`last_seen_at` is stamped at most once a minute, after the request, in a transaction of its own.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, g, request
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from service.auth.models import UserSession
from service.core.db import db, utcnow
from service.core.fiscal import local_today
from service.notifications.queries import header_columns
from service.org.models import User
from service.org.scope import remember_roles, with_active_roles

#: last_seen_at is written at most this often per session.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
_TOUCH = "tidtam.user_session_touch"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


def parse_cookie_id(user_id: str) -> tuple[int, int, str] | None:
    """(user id, generation, key) from the cookie's "id:generation:key", or None."""
    ident, _sep, rest = user_id.partition(":")
    version, _sep, key = rest.partition(":")
    if not ident.isdigit() or not version.isdigit() or not key:
        return None
    return int(ident), int(version), key


def signed_in(session: Session, cookie_id: str) -> User | None:
    """The person whose session cookie says `cookie_id`, with their roles (kept as
    `active_roles` keeps them), their session row (`g.user_session`) and, for a page, what
    its header shows them (`g.tidtam_header`), in one statement; None when the session
    ended, the generation moved on or the person is deactivated."""
    parsed = parse_cookie_id(cookie_id)
    if parsed is None:
        return None
    user_id, version, key = parsed
    header = header_columns(user_id, local_today()) if _draws_header() else ()
    stmt = with_active_roles(
        select(User, UserSession, *header)
        .join(
            UserSession,
            and_(
                UserSession.user_id == User.id,
                UserSession.key_hash == hash_key(key),
                UserSession.ended_at.is_(None),
            ),
        )
        .where(User.id == user_id, User.session_version == version, User.active.is_(True))
    )
    rows = session.execute(stmt).all()
    if not rows:
        return None
    user: User = rows[0][0]
    row: UserSession = rows[0][1]
    remember_roles(session, user, (found[-1] for found in rows))
    user.session_key = key
    g.user_session = row
    if header:
        g.tidtam_header = (int(rows[0][2] or 0), bool(rows[0][3]))
    now = utcnow()
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        g.setdefault(_TOUCH, (row.id, now, (request.remote_addr or "")[:64]))
    return user


def _draws_header() -> bool:
    """A page is being asked for (its header shows the bell and the "act for" link), not an
    API call or a form's POST, which draw no header."""
    return request.method == "GET" and not request.path.startswith("/api/")


def current_session() -> UserSession | None:
    """This request's session row (after the person was read), or None."""
    return g.get("user_session")


def open_sessions(session: Session, user: User) -> list[UserSession]:
    """`user`'s sessions that still open pages, the last seen first (the /account page, the
    admin's page of the person and the API): not ended, of an active account. A deactivation
    ends the rows since it shuts them out, but the rows of accounts deactivated before that
    stayed unended, listed as open with a button to end them."""
    return list(
        session.scalars(
            select(UserSession)
            .join(User, User.id == UserSession.user_id)
            .where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                User.active.is_(True),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def second_factor_given() -> bool:
    """Whether this browser's session was opened with a second factor."""
    row = current_session()
    return bool(row is not None and row.second_factor)


def _stamp_last_seen(response: Response) -> Response:
    pending: tuple[int, datetime, str] | None = g.pop(_TOUCH, None)
    if pending is None:
        return response
    session_id, now, address = pending
    session = db.session()
    # What the view left uncommitted (a refusal after a flush) is not to be kept.
    session.rollback()
    with session.begin():
        session.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id, UserSession.last_seen_at < now - LAST_SEEN_RESOLUTION
            )
            .values(last_seen_at=now, address=address)
        )
    return response


def init_app(app: Flask) -> None:
    app.after_request(_stamp_last_seen)


def describe_device(user_agent: str) -> str:
    """ "Firefox on Android" from a User-Agent; the raw string's start when not recognised."""
    agent = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
                ("curl/", "curl"),
            )
            if token in agent
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in agent
        ),
        "",
    )
    if browser and system:
        return f"{browser} · {system}"
    return browser or system or agent[:60] or "?"
