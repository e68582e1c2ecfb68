"""Every sign-in change a person makes for themselves, one operation each: opening and
ending sessions, failed attempts, changing and resetting the password, enrolling the second
factor and spending a recovery code. What an admin does to someone else's sign-in (temporary
password, ending all their sessions, clearing their second factor, linking their single
sign-on identity) is in service.admin.operations.

Each records one audit row (object type "user", the person's id), so the person's sign-in
history is their audit trail. None of them commits.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.audit.operations import record
from service.auth import passwords
from service.auth.models import RecoveryCode, UserSession
from service.auth.second_factor import (
    fresh_step,
    hash_recovery_code,
    new_recovery_codes,
    required_by_role,
    seal_secret,
    totp_step,
)
from service.auth.sessions import hash_key, new_key
from service.core.db import utcnow
from service.core.tasks import TaskName, enqueue_after_commit
from service.core.translate import gettext as _
from service.org.models import User
from service.workflow.engine import Refused

log = logging.getLogger("tidtam.auth")

#: How a session was opened.
PASSWORD = "password"
SSO = "sso"


def start_session(
    session: Session,
    user: User,
    *,
    method: str,
    second_factor: bool,
    user_agent: str,
    address: str,
) -> tuple[UserSession, str]:
    """Open a session for `user`: the row and the key the cookie carries (shown only to
    this browser, stored as its hash)."""
    key = new_key()
    row = UserSession(
        user_id=user.id,
        key_hash=hash_key(key),
        method=method,
        second_factor=second_factor,
        user_agent=(user_agent or "")[:255],
        address=(address or "")[:64],
    )
    session.add(row)
    session.flush()
    record(
        session,
        action="user.sign_in",
        object_type="user",
        object_id=user.id,
        actor=user,
        changes={"method": method, "second_factor": second_factor, "address": row.address},
    )
    return row, key


def sign_in_failed(
    session: Session, user: User | None, *, why: str, address: str, email: str = ""
) -> None:
    """Record a failed attempt on `user`'s account (`why`: password, second_factor,
    sso_refused, deactivated). An unknown address is logged, not audited: it names no one."""
    if user is None:
        log.info("sign-in failed for unknown %r from %s (%s)", email[:255], address, why)
        return
    record(
        session,
        action="user.sign_in_failed",
        object_type="user",
        object_id=user.id,
        changes={"why": why, "address": (address or "")[:64]},
    )


def end_session(
    session: Session, actor: User, row: UserSession, *, signing_out: bool = False
) -> None:
    """End one session (sign-out, or "end" on the sessions page). Raises Refused(404) unless
    it is `actor`'s own (another's is not told apart from none)."""
    if row.user_id != actor.id:
        raise Refused(404, _("no such session"))
    if row.ended_at is not None:
        return
    row.ended_at = utcnow()
    session.flush()
    record(
        session,
        action="user.sign_out" if signing_out else "user.session_end",
        object_type="user",
        object_id=actor.id,
        actor=actor,
        changes={"session": row.id},
    )


def end_sessions(session: Session, user: User, *, keep: UserSession | None = None) -> int:
    """Stamp every open session of `user` ended but `keep`; how many ended. Bare: the
    caller records why."""
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    result: Any = session.execute(stmt)
    return int(result.rowcount or 0)


def _refuse_weak(user: User, password: str, field: str) -> None:
    problems = passwords.problems(password, name=user.name, email=user.email)
    if problems:
        raise Refused(422, problems[0], fields={field: " ".join(problems)})


def set_password(
    session: Session, user: User, password: str, *, must_change: bool, keep: UserSession | None
) -> int:
    """Set the hash, move the session generation on (every remembered device is forgotten)
    and end every session but `keep`; how many ended. Bare: the caller checks and records."""
    user.password_hash = passwords.hash_password(password)
    user.password_must_change = must_change
    user.session_version += 1
    session.flush()
    return end_sessions(session, user, keep=keep)


def change_password(
    session: Session, user: User, *, current: str, new: str, keep: UserSession | None
) -> User:
    """`user` changes their own password, knowing the current one; every other session of
    theirs ends. Raises Refused(422) naming `current_password` or `new_password`."""
    if not passwords.password_matches(user.password_hash, current or ""):
        raise Refused(
            422,
            _("the current password is not right"),
            fields={"current_password": _("the current password is not right")},
        )
    if new == current:
        raise Refused(
            422,
            _("choose a password different from the current one"),
            fields={"new_password": _("choose a password different from the current one")},
        )
    _refuse_weak(user, new, "new_password")
    was_temporary = user.password_must_change
    ended = set_password(session, user, new, must_change=False, keep=keep)
    record(
        session,
        action="user.password_change",
        object_type="user",
        object_id=user.id,
        actor=user,
        changes={"sessions_ended": ended, "was_temporary": was_temporary},
    )
    return user


def ask_password_reset(session: Session, email: str, *, address: str) -> None:
    """Someone asks for a link to choose a new password: when an active account has `email`,
    record the request and mail the link after commit. Nothing tells the asker whether one
    has it (the page answers the same either way)."""
    user = session.scalar(select(User).where(User.email == email))
    if user is None or not user.active:
        return
    record(
        session,
        action="user.password_reset_request",
        object_type="user",
        object_id=user.id,
        changes={"address": address},
    )
    enqueue_after_commit(session, TaskName.AUTH_PASSWORD_RESET_MAIL, user.id)


def reset_password(session: Session, user: User, new: str) -> User:
    """The holder of a valid reset link sets a new password; every session ends. Raises
    Refused(422) naming `new_password`."""
    _refuse_weak(user, new, "new_password")
    ended = set_password(session, user, new, must_change=False, keep=None)
    record(
        session,
        action="user.password_reset",
        object_type="user",
        object_id=user.id,
        actor=user,
        changes={"sessions_ended": ended},
    )
    return user


# ---- second factor -----------------------------------------------------------------------------


def enrol_totp(session: Session, user: User, *, secret: str, code: str) -> list[str]:
    """Keep `secret` as `user`'s TOTP secret once `code` proves their app shows it; the new
    recovery codes (old ones are spent), to be shown once. Raises Refused(422) naming `code`."""
    step = totp_step(secret, code or "")
    if step is None:
        raise Refused(
            422,
            _("the code does not match; check the phone's clock and try the next code"),
            fields={"code": _("the code does not match")},
        )
    user.totp_secret = seal_secret(secret)
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = _replace_recovery_codes(session, user)
    session.flush()
    record(
        session,
        action="user.totp_enrol",
        object_type="user",
        object_id=user.id,
        actor=user,
    )
    return codes


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    codes = new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(c)) for c in codes)
    return codes


def check_second_factor(session: Session, user: User, code: str) -> bool:
    """Whether `code` is `user`'s TOTP code of now, not given before, or one of their unused
    recovery codes (which is spent and recorded)."""
    if user.totp_secret is None:
        return False
    step = fresh_step(user, code or "")
    if step is not None:
        # Claimed in one statement: of two requests carrying the same code, one wins.
        claimed: Any = session.execute(
            update(User)
            .where(
                User.id == user.id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            set_committed_value(user, "totp_last_step", step)  # as the row now says
            return True
        return False
    row = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_recovery_code(code or ""),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    session.flush()
    left = session.scalar(
        select(RecoveryCode.id)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .limit(1)
    )
    record(
        session,
        action="user.recovery_code_use",
        object_type="user",
        object_id=user.id,
        actor=user,
        changes={"codes_left": left is not None},
    )
    return True


def turn_off_totp(session: Session, user: User, *, code: str) -> User:
    """`user` removes their own second factor, giving a current code. Raises Refused(409)
    when their role requires one, Refused(422) naming `code`."""
    if required_by_role(session, user):
        raise Refused(409, _("your role requires a second factor"))
    if user.totp_secret is None:
        return user
    if not check_second_factor(session, user, code):
        raise Refused(
            422, _("the code does not match"), fields={"code": _("the code does not match")}
        )
    clear_second_factor(session, user)
    record(session, action="user.totp_remove", object_type="user", object_id=user.id, actor=user)
    return user


def clear_second_factor(session: Session, user: User) -> None:
    """Forget `user`'s TOTP secret and recovery codes. Bare: the caller records."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.flush()
