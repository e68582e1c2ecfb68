"""Who is calling the API: a browser session or a personal API token.

Scripts send `Authorization: Bearer tdt_…`. A token is shown once when it is made; only its
SHA-256 is stored, so a copy of the database gives no working token. Revoking stamps
`revoked_at`; a deactivated user's tokens stop working with them.

A browser session may call the API too, but then every change must carry the `X-CSRFToken`
header (the token of the page's forms): a cookie alone cannot ride the API from another
site. Token requests carry no cookie and need no CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask import g, request
from flask_login import current_user
from flask_smorest import abort
from limits import parse
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.auth.models import ApiToken
from service.core.db import utcnow
from service.core.labels import label
from service.core.permissions import Answer, is_admin_anywhere
from service.core.translate import gettext as _
from service.core.web import forget_language
from service.extensions import count, csrf, db, over_limit
from service.org.models import Role, User
from service.org.scope import remember_roles, role_names, with_active_roles
from service.workflow.engine import Refused

TOKEN_PREFIX = "tdt_"
# last_used_at is stamped at most this often: a script's every request need not write a row.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# session.info key: (token id, instant) of a last_used_at stamp not yet written.
_TOUCH = "tidtam.api_token_touch"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Unknown, revoked or malformed tokens one client address may send; beyond it every token
#: request from that address answers 429 until the window ends (a guess that happened to be
#: right must not get through either).
BAD_TOKEN_LIMIT = parse("20 per minute")


class Unauthorized(Exception):
    """No usable credentials: answered 401 with a WWW-Authenticate challenge."""

    def __init__(self, detail: str, *, invalid: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.invalid = invalid


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A token for `user`: the row (hash only) and the token itself, to be shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip(), token_hash=hash_token(token))
    row.prefix = token[:12]
    session.add(row)
    session.flush()
    return row, token


def _from_token(session: Session, header: str) -> User:
    # The peer address, or what the configured trusted proxies say it is (PROXY_FIX_X_FOR).
    address = request.remote_addr or "unknown"
    wait = over_limit(BAD_TOKEN_LIMIT, "api-bad-token", address)
    if wait is not None:
        seconds = int(wait + 0.999)
        abort(
            429,
            message=_(
                "too many bad API tokens from this address; retry in %(seconds)s s",
                seconds=seconds,
            ),
            headers={"Retry-After": str(seconds)},
        )
    try:
        return _check_token(session, header)
    except Unauthorized:
        count(BAD_TOKEN_LIMIT, "api-bad-token", address)
        raise


def _check_token(session: Session, header: str) -> User:
    scheme, _sep, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        raise Unauthorized(_("send `Authorization: Bearer tdt_…` with a personal API token"))
    # The token, its user and the user's roles in one round trip: this runs before every
    # scripted request, and every permission asks for the roles.
    rows = session.execute(
        with_active_roles(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token))
        )
    ).all()
    if not rows or rows[0][0].revoked_at is not None:
        raise Unauthorized(_("the API token is unknown or revoked"), invalid=True)
    row, user = rows[0][0], rows[0][1]
    if not user.active:
        raise Unauthorized(_("the token's user is deactivated"), invalid=True)
    remember_roles(session, user, (found[-1] for found in rows))
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        # Written with the request's own change, in its transaction (`write_token_use`), or
        # after a request that writes nothing (`commit_token_use`): no commit of its own.
        session.info[_TOUCH] = (row.id, now)
    g.api_token_id = row.id
    return user


def write_token_use(session: Session) -> None:
    """Stamp a token's last_used_at in the transaction being committed. A stamp already
    written by a concurrent request of the same token within the resolution is left alone."""
    pending: tuple[int, Any] | None = session.info.pop(_TOUCH, None)
    if pending is None:
        return
    token_id, now = pending
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at < now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )


def commit_token_use() -> None:
    """After a token's request that committed nothing (a read, a refusal): commit the
    pending last_used_at stamp, at most once a minute per token."""
    registry = db.session.registry
    if not registry.has() or _TOUCH not in registry().info:
        return
    session = registry()
    # What the view left uncommitted (a refusal after a flush) is not to be kept: the stamp
    # goes alone, in a transaction of its own.
    session.rollback()
    with session.begin():
        pass  # the commit writes the stamp (`write_token_use`)


def authenticate() -> User:
    """The calling user, or raise Unauthorized. Session-authenticated changes are checked
    for the CSRF header (raises flask_wtf.csrf.CSRFError, answered 400)."""
    if "api_user" in g:
        user: User = g.api_user
        return user
    session = db.session()
    header = request.headers.get("Authorization")
    if header:
        user = _from_token(session, header)
        g.api_auth = "token"
    elif current_user and current_user.is_authenticated:
        user = session.get(User, current_user.id)  # type: ignore[assignment]
        if user is None:
            raise Unauthorized(_("sign in again"))
        if user.password_must_change:
            raise Unauthorized(_("choose your own password first (/account/password)"))
        if request.method in UNSAFE:
            csrf.protect()
        g.api_auth = "session"
    else:
        raise Unauthorized(_("sign in, or send `Authorization: Bearer tdt_…`"))
    g.api_user = user
    forget_language()
    return user


def actor() -> User:
    """The authenticated user of this request (authenticate() has run for every API view)."""
    return authenticate()


def is_admin(session: Session, user: User) -> bool:
    """Admin somewhere; what of the tree they administer is service.core.permissions'
    `administers` to say."""
    return is_admin_anywhere(session, user)


def require_admin(session: Session, user: User, what: str) -> None:
    """Raise Refused(403) unless `user` is an admin (of some unit)."""
    if not is_admin(session, user):
        raise Refused(403, _("only an admin may %(action)s", action=what))


def require(answer: Answer) -> None:
    """Raise Refused(403) with the answer's reason unless it allows."""
    if not answer:
        raise Refused(403, answer.reason)


def require_role(session: Session, user: User, role: Role, what: str) -> None:
    if role not in role_names(session, user):
        raise Refused(403, _("only a %(role)s may %(action)s", role=label(role), action=what))
