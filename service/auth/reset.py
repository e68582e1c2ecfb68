"""Forgotten passwords: a signed link, made and mailed by a worker, good for one use and
PASSWORD_RESET_MAX_AGE_MINUTES.

The link is never stored: the worker signs (itsdangerous, SECRET_KEY) the person's id and a
fingerprint of their current password hash, and mails it. Using the link sets a new password,
which changes the hash, so the same link (and every other link sent before) stops working:
one use without a table of tokens.
"""

from __future__ import annotations

import hashlib
from email.message import Message
from email.utils import make_msgid

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from service.notifications.mail import Mailer, _compose, _language, _render
from service.org.models import User

SALT = "tidtam.password-reset"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}:{user.session_version}".encode()).hexdigest()[:16]


def reset_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def max_age_seconds() -> int:
    return int(current_app.config.get("PASSWORD_RESET_MAX_AGE_MINUTES", 30)) * 60


def user_of_token(session: Session, token: str) -> User | None:
    """The active person a reset link is for, or None when it is forged, expired or used."""
    try:
        data = _serializer().loads(token, max_age=max_age_seconds())
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        return None
    return user


def reset_link(user: User) -> str:
    base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
    return f"{base}/password/reset/{reset_token(user)}"


def reset_mail(user: User) -> Message:
    lang = _language(user.language)
    minutes = max_age_seconds() // 60
    subject = "ติดตาม: ตั้งรหัสผ่านใหม่" if lang == "th" else "Tidtam: choose a new password"
    body = _render(
        f"mail/password_reset.{lang}.txt", name=user.name, link=reset_link(user), minutes=minutes
    )
    domain = (current_app.config.get("MAIL_DEFAULT_SENDER", "").rpartition("@")[2]) or None
    return _compose(user.name, user.email, lang, make_msgid(domain=domain), subject, body)


def send_reset_mail(session: Session, user_id: int) -> bool:
    """Mail `user_id` a reset link now (the worker's task). False for an account that is
    gone or deactivated. Raises DeliveryError when the mail server refuses."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return False
    with Mailer() as mailer:
        mailer.send(reset_mail(user))
    return True
