"""Acting for someone in the browser: a deputy who holds a delegation chooses whom they act
for; the choice is kept in the browser session until they end it or the delegation ends.

While acting, the pages read and decide with the principal's authority (their roles, their
scope: never more), and every record names both people: the signed-in deputy as the actor
and the principal as whom they acted for. The request tells the audit layer so through
`session.info` (`audit.operations.record` reads it), and the work screens pass the principal
to the workflow engine, which checks the delegation again inside every change.
"""

from __future__ import annotations

from datetime import date

from flask import flash, g
from flask import session as browser_session
from flask_login import current_user
from sqlalchemy import ScalarSelect, exists, select
from sqlalchemy.orm import Session

from service.audit.operations import ACTING_KEY
from service.core.fiscal import local_today
from service.core.translate import gettext as _
from service.org.models import Delegation, User

#: The browser session's key: the id of the user acted for.
SESSION_KEY = "acting_for"


def delegation_in_force(
    session: Session, delegate: User, principal_id: int, day: date
) -> Delegation | None:
    """The delegation (with its principal) that lets `delegate` act for user `principal_id`
    on `day`: not withdrawn, and `day` within its period. None when there is none."""
    stmt = (
        select(Delegation)
        .join(User, User.id == Delegation.principal_id)
        .where(
            Delegation.delegate_id == delegate.id,
            Delegation.principal_id == principal_id,
            Delegation.withdrawn_at.is_(None),
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
            User.active.is_(True),
        )
        .order_by(Delegation.id)
        .limit(1)
    )
    return session.scalar(stmt)


def delegations_today_exist(user_id: int, day: date) -> ScalarSelect[bool]:
    """A scalar subquery, true when user `user_id` holds a delegation in force on `day`: the
    header asks it beside the unread count, in the same statement."""
    return (
        select(
            exists().where(
                Delegation.delegate_id == user_id,
                Delegation.withdrawn_at.is_(None),
                Delegation.starts_on <= day,
                Delegation.ends_on >= day,
            )
        )
    ).scalar_subquery()


def signed_in() -> User | None:
    """The signed-in user (None when anonymous)."""
    if current_user and current_user.is_authenticated:
        user: User = current_user._get_current_object()
        return user
    return None


def acting_for(session: Session) -> User | None:
    """The user the signed-in person acts for in this request, None when they act as
    themselves. A choice whose delegation has ended or been withdrawn is forgotten here,
    with a message, and the request goes on as the person themselves."""
    if "tidtam_acting_for" in g:
        known: User | None = g.tidtam_acting_for
        return known
    principal: User | None = None
    chosen = browser_session.get(SESSION_KEY)
    user = signed_in()
    if chosen is not None and user is not None:
        delegation = delegation_in_force(session, user, int(chosen), local_today())
        if delegation is None:
            browser_session.pop(SESSION_KEY, None)
            flash(_("The delegation has ended: you act as yourself again."), "error")
        else:
            principal = delegation.principal
            session.info[ACTING_KEY] = (user.id, principal.id)
    elif chosen is not None:
        browser_session.pop(SESSION_KEY, None)
    g.tidtam_acting_for = principal
    return principal


def authority(session: Session) -> User | None:
    """Whose roles and scope the page uses: the principal while acting, else the signed-in
    user (None when anonymous)."""
    return acting_for(session) or signed_in()


def start_acting(session: Session, delegate: User, principal_id: int) -> Delegation | None:
    """Keep in the browser session that `delegate` acts for user `principal_id`, when a
    delegation in force allows it today; None (and nothing kept) when none does."""
    delegation = delegation_in_force(session, delegate, principal_id, local_today())
    if delegation is None:
        return None
    browser_session[SESSION_KEY] = principal_id
    g.pop("tidtam_acting_for", None)
    g.pop("tidtam_roles", None)
    return delegation


def stop_acting() -> None:
    """Act as oneself again."""
    browser_session.pop(SESSION_KEY, None)
    g.pop("tidtam_acting_for", None)
    g.pop("tidtam_roles", None)
