"""The second factor: TOTP codes (RFC 6238: 6 digits, 30 s, SHA-1, as every authenticator
app reads them), one-use recovery codes, and devices remembered for a while.

Who must give one: anyone who enrolled; and, when the deployment says so
(TWO_FACTOR_REQUIRED), every approver and admin, who enrol at their next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import Any

import pyotp
import pyotp.exceptions
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_app_context
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from service.core.thai import read_code
from service.core.translate import lazy_gettext as _l
from service.org.models import Role, User
from service.org.scope import role_names

#: Roles that release money or change who may: they must give a second factor when the
#: deployment asks for it.
GUARDED_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
RECOVERY_CODES = 10
ISSUER = "Tidtam"
#: What the code box says when it was sent empty (or with spaces only).
CODE_MISSING = _l("enter the 6-digit code your authenticator app shows")
log = logging.getLogger(__name__)


def required_by_role(session: Session, user: User) -> bool:
    """Whether the deployment requires `user` to give a second factor."""
    if not has_app_context() or not current_app.config.get("TWO_FACTOR_REQUIRED"):
        return False  # a script without the app (the data generator) holds no deployment
    return bool(role_names(session, user) & GUARDED_ROLES)


def asked_of(session: Session, user: User) -> bool:
    """Whether signing in as `user` asks for a second factor (enrolled, or required)."""
    return user.totp_secret is not None or required_by_role(session, user)


def new_secret() -> str:
    return pyotp.random_base32()


# ---- the secret at rest -----------------------------------------------------------------------
#
# app_user.totp_secret holds a Fernet token (AES-128-CBC with HMAC-SHA256), never the base32
# secret: whoever reads a backup or the database alone cannot make anyone's codes. The key is
# derived from SECRET_KEY with HKDF rather than set apart, so a deployment has no second secret
# to lose; migrations/versions/*_totp_secret_encrypted.py derives it the same way.

_HKDF_INFO = b"tidtam.totp-secret.v1"


def secret_box(secret_key: str) -> Fernet:
    """The Fernet key for TOTP secrets, derived from the deployment's `secret_key`."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal_secret(secret: str) -> str:
    """`secret` (base32) encrypted for app_user.totp_secret."""
    return secret_box(current_app.config["SECRET_KEY"]).encrypt(secret.encode()).decode()


def open_secret(sealed: str) -> str | None:
    """The base32 secret inside `sealed`; None when this SECRET_KEY did not seal it (the key
    changed: the person signs in with a recovery code, or an admin resets their factor)."""
    try:
        return secret_box(current_app.config["SECRET_KEY"]).decrypt(sealed.encode()).decode()
    except InvalidToken:
        log.warning("a TOTP secret does not open with this SECRET_KEY")
        return None


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an inline <svg> (no image request, no third party)."""
    code = segno.make(uri, error="m")
    svg: str = code.svg_inline(scale=4, dark="#000", light="#fff", omitsize=False)
    return svg


def totp_step(secret: str, code: str) -> int | None:
    """The 30 s step whose code `code` is: now's, or the step either side (a phone's clock
    drifts); None when it is none of them. The code is read as typed on a Thai keyboard
    (๔๘๒๗๑๓) or in full-width digits, spaces anywhere (service.core.thai.read_code)."""
    digits = "".join(read_code(code).split())
    if len(digits) != 6 or not digits.isdigit():
        return None
    try:
        step: int = pyotp.TOTP(secret).verify_and_get_timecode(digits, valid_window=1)
    except pyotp.exceptions.OTPVerificationError:
        return None
    return step


def fresh_step(user: User, code: str) -> int | None:
    """The step of `code` when it is `user`'s and later than the last code they gave (a code
    seen once, by anyone looking over a shoulder, is spent)."""
    secret = open_secret(user.totp_secret) if user.totp_secret is not None else None
    if secret is None:
        return None
    step = totp_step(secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return None
    return step


def spent_step(user: User, code: str) -> bool:
    """Whether `code` is one of `user`'s codes given already (`fresh_step` refuses it): the
    person typed it again, within the same half minute, and is told to wait for the next
    one rather than that it is wrong."""
    secret = open_secret(user.totp_secret) if user.totp_secret is not None else None
    if secret is None or user.totp_last_step is None:
        return False
    step = totp_step(secret, code)
    return step is not None and step <= user.totp_last_step


def new_recovery_codes() -> list[str]:
    """Ten codes like "k3f9-2xq7-mm4p" (about 60 bits each)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def hash_recovery_code(code: str) -> str:
    folded = "".join(read_code(code).lower().split()).replace("-", "")
    return hashlib.sha256(folded.encode()).hexdigest()


# ---- devices remembered ------------------------------------------------------------------------


def remember_cookie_name(user: User) -> str:
    return f"tidtam_device_{user.id}"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tidtam.second-factor")


def remember_days() -> int:
    return int(current_app.config.get("TWO_FACTOR_REMEMBER_DAYS", 0))


def remembered_token(user: User) -> str:
    """A signed value saying this browser gave `user`'s second factor in their current
    session generation (a password change forgets every device)."""
    return _serializer().dumps({"u": user.id, "v": user.session_version})


def is_remembered(user: User, cookies: Any) -> bool:
    days = remember_days()
    value = cookies.get(remember_cookie_name(user))
    if days <= 0 or not value:
        return False
    try:
        data = _serializer().loads(value, max_age=days * 86400)
    except BadSignature:
        return False
    return bool(data == {"u": user.id, "v": user.session_version})
