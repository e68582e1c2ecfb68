"""Reading notifications: a user's notification centre, their preferences, failed deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.orm import Session

from service.notifications.messages import describe, summary
from service.notifications.models import (
    Channel,
    DeliveryMode,
    DeliveryState,
    Notification,
    NotificationPreference,
    ReminderKind,
)
from service.notifications.recipients import NOTIFIED_KINDS
from service.org.models import Role, User

#: Every kind a user can set a preference for: events, then reminders.
PREFERENCE_KINDS: tuple[str, ...] = (
    *sorted(NOTIFIED_KINDS),
    *(f"deadline.{kind.value}" for kind in ReminderKind),
)


#: Told to anyone, whatever their role.
_ANYONE = frozenset(
    {"comment.mention", "delegation.create", "delegation.withdraw", "line_account.link"}
)

#: What a role can be told of (service.notifications.recipients, service.deadlines.engine),
#: for the settings page: a school's clerk on a phone is offered what a school hears, not
#: forty kinds of district business. District roles (and admins) hear of nearly everything
#: through their units and as heads of them: they are offered every kind.
KINDS_BY_ROLE: dict[Role, frozenset[str]] = {
    Role.SCHOOL: _ANYONE
    | {
        "step_result.return",
        "step_result.accept",
        "allocation.approve",
        "installment.approve",
        "installment.payment",
        "installment.pay",
        "installment.reject",
        "installment.undecidable",
        f"deadline.{ReminderKind.STEP_DUE.value}",
        f"deadline.{ReminderKind.STEP_OVERDUE.value}",
    },
    Role.EVALUATOR: _ANYONE
    | {"evaluation.self_assess", "kpi.result", f"deadline.{ReminderKind.EVALUATION_SCORE.value}"},
    Role.OFFICER: frozenset(PREFERENCE_KINDS),
    Role.APPROVER: frozenset(PREFERENCE_KINDS),
    Role.ADMIN: frozenset(PREFERENCE_KINDS),
}


def preference_kinds(session: Session, user: User) -> tuple[str, ...]:
    """The kinds the settings page offers `user`: those their roles can be told of, and any
    kind they have been told of or set a preference for (whatever they hear, they can turn
    down), in PREFERENCE_KINDS' order."""
    from service.org.scope import role_names

    offered: set[str] = set(_ANYONE)
    for role in role_names(session, user):
        offered |= KINDS_BY_ROLE.get(role, frozenset())
    if len(offered) < len(PREFERENCE_KINDS):
        offered |= set(
            session.scalars(
                select(Notification.kind)
                .where(Notification.recipient_id == user.id, Notification.channel == Channel.IN_APP)
                .distinct()
            )
        )
        offered |= {kind for kind, _channel in preferences_of(session, user)}
    return tuple(kind for kind in PREFERENCE_KINDS if kind in offered)


def _unread(user_id: int) -> Select[Any]:
    return select(func.count(Notification.id)).where(
        Notification.recipient_id == user_id,
        Notification.channel == Channel.IN_APP,
        Notification.state == DeliveryState.SENT,
        Notification.read_at.is_(None),
    )


def unread_count(session: Session, user: User) -> int:
    """In-app notifications delivered to `user` and not read yet."""
    return int(session.scalar(_unread(user.id)) or 0)


def header_columns(user_id: int, today: date) -> tuple[ScalarSelect[int], ScalarSelect[bool]]:
    """What every page's header shows a signed-in user, as two columns a statement can carry:
    the unread count for the bell, and whether they hold a delegation today (the "act for"
    link). The statement that reads the person carries them on a page (service.auth.sessions)."""
    from service.org.acting import delegations_today_exist

    return _unread(user_id).scalar_subquery(), delegations_today_exist(user_id, today)


def header_facts(session: Session, user: User, today: date) -> tuple[int, bool]:
    """The header's facts in a statement of their own (a page whose person was read without
    them)."""
    row = session.execute(select(*header_columns(user.id, today))).one()
    return int(row[0] or 0), bool(row[1])


@dataclass(frozen=True)
class CentreItem:
    id: int
    kind: str
    text: str
    link: str
    at: datetime
    read: bool


def centre_items(session: Session, user: User, lang: str, limit: int = 50) -> list[CentreItem]:
    """The user's latest in-app notifications, newest first, each as one line of text."""
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.recipient_id == user.id,
            Notification.channel == Channel.IN_APP,
            Notification.state == DeliveryState.SENT,
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()
    items = []
    for n in rows:
        words = describe(session, n.object_type, n.object_id, n.payload, lang, n.kind)
        items.append(
            CentreItem(
                id=n.id,
                kind=n.kind,
                text=summary(n.kind, n.payload, words, lang),
                link=words.get("link", ""),
                at=n.sent_at or n.created_at,
                read=n.read_at is not None,
            )
        )
    return items


def preferences_of(session: Session, user: User) -> dict[tuple[str, Channel], DeliveryMode]:
    """The user's stored preferences by (kind, channel); a missing one means immediately."""
    rows = session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id)
    )
    return {(p.kind, p.channel): p.mode for p in rows}


def failed_notifications(session: Session, limit: int = 200) -> list[tuple[Notification, User]]:
    """Deliveries that failed for good, newest first, with their recipients (for admins)."""
    return [
        (n, u)
        for n, u in session.execute(
            select(Notification, User)
            .join(User, User.id == Notification.recipient_id)
            .where(Notification.state == DeliveryState.FAILED)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    ]


def failed_counts(session: Session) -> list[tuple[Channel, str, int]]:
    """How many deliveries failed for good, by channel and kind (for "retry all")."""
    rows = session.execute(
        select(Notification.channel, Notification.kind, func.count(Notification.id))
        .where(Notification.state == DeliveryState.FAILED)
        .group_by(Notification.channel, Notification.kind)
        .order_by(Notification.channel, Notification.kind)
    ).all()
    return [(channel, kind, int(count)) for channel, kind, count in rows]


def endpoint_deliveries(session: Session, endpoint_id: int, limit: int = 100) -> list[Notification]:
    """A webhook endpoint's latest deliveries, newest first (its delivery log)."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.endpoint_id == endpoint_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
