"""Notification operations: rows made from outbox events and reminders, claimed for delivery,
their outcome recorded, lost work swept up, and what people do with them (read, retry).

Exactly once, per (event or reminder occurrence, recipient, channel), and for a unit's
webhook endpoint or LINE group per (event or occurrence, endpoint or group):

- Creation: every row has a `delivery_key` naming that triple, unique in the database, and is
  inserted with INSERT … ON CONFLICT (delivery_key) DO NOTHING. Two relays, two deadline runs
  or a rerun after a crash insert nothing new.
- Delivery: a row is claimed before anything leaves the building (pending → sending, with a
  lease) and that claim is committed; the mail, webhook or LINE push is sent outside any
  transaction; the row is then marked sent. A duplicate task finds the row sending (or sent)
  and does nothing. A worker killed mid-send leaves the row sending; when the lease ends the
  retried task (acks late, so the message comes back) or the sweep takes it over and sends it
  again.
- What remains: a process that dies after the SMTP server accepted the mail but before the
  row is marked sent makes the retry send it again; no protocol can close that gap with SMTP.
  Both copies carry the same Message-ID (derived from the delivery key), so mail stores and
  the tests recognise the duplicate. The window is a few milliseconds against seconds for a
  claim held without a lease, and a crash before the server's answer sends nothing twice.
  A LINE push carries a retry key derived from the delivery key, which LINE de-duplicates
  itself (service/notifications/line.py): no gap there.

Operations flush or execute and never commit; the caller (a task or a request) commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from service.audit.models import OutboxEvent
from service.audit.operations import emit, record
from service.core.db import UTCDateTime, utcnow
from service.core.labels import field_label
from service.core.permissions import ALLOW, Answer, administers, deny, holds_any, may_administer
from service.core.sql import concat_text, dialect_of, json_array_has, upsert_insert
from service.core.tasks import TaskName, enqueue_after_commit, nudge_after_commit
from service.core.translate import gettext as _
from service.notifications.models import (
    Channel,
    DeliveryMode,
    DeliveryState,
    LineAccount,
    LineGroup,
    LineLinkCode,
    Notification,
    NotificationPreference,
    ReminderKind,
    ReminderRule,
    WebhookEndpoint,
)
from service.notifications.recipients import event_candidates
from service.org.models import OrgUnit, Role, RoleAssignment, User
from service.workflow.engine import Refused, missing


def require(answer: Answer) -> None:
    """Raises Refused(403) with the answer's reason unless it allows."""
    if not answer:
        raise Refused(403, answer.reason)


RELAY_TASK = TaskName.OUTBOX_RELAY
DISPATCH_TASK = TaskName.NOTIFICATIONS_DISPATCH
#: Notification ids per dispatch task: one task per batch, not per alert.
DISPATCH_BATCH = 100
#: The kind of the one mail a day that carries a person's held notifications.
DIGEST_KIND = "digest"
#: Reminders whose email waits for the daily digest unless the person chose otherwise: an
#: officer hears of every overdue step of every school once a day, in one mail, not once per
#: school per step. In-app rows are not held: the notification centre lists them as they come.
DIGEST_BY_DEFAULT: frozenset[str] = frozenset(
    f"deadline.{kind.value}" for kind in ReminderKind if kind is not ReminderKind.STEP_DUE
)


@dataclass(frozen=True)
class DeliverySettings:
    """How long a sending worker owns a row (longer than any one delivery takes), how long a
    queued dispatch task owns a pending row before the sweep re-queues it, and how many
    attempts a delivery gets before it is marked failed for an admin to retry."""

    send_lease: timedelta = timedelta(seconds=120)
    requeue_after: timedelta = timedelta(seconds=600)
    max_attempts: int = 5

    @classmethod
    def of(cls, app: Flask) -> DeliverySettings:
        return cls(
            send_lease=timedelta(seconds=app.config.get("NOTIFICATION_SEND_LEASE_SECONDS", 120)),
            requeue_after=timedelta(seconds=app.config.get("NOTIFICATION_REQUEUE_SECONDS", 600)),
            max_attempts=int(app.config.get("NOTIFICATION_MAX_ATTEMPTS", 5)),
        )


def no_id() -> Any:
    """A NULL id column, typed: PostgreSQL types an untyped NULL of a UNION as text."""
    return cast(null(), Integer)


def chunks(ids: Sequence[int], size: int = DISPATCH_BATCH) -> list[list[int]]:
    """`ids` in lists of at most `size`, in order."""
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


# -- creation -----------------------------------------------------------------------------


def insert_notifications(
    session: Session,
    candidates: Select,
    *,
    now: datetime,
    requeue_after: timedelta,
    serialised: bool = False,
    key_prefix: str = "",
) -> list[int]:
    """Insert one notification per channel for each candidate row and return the ids of the
    new rows a dispatch task must deliver (email and webhook, not held for the digest).

    `candidates` has the columns recipient_id, kind, object_type, object_id, payload (JSON) and
    key (the delivery key up to the recipient, e.g. "event:42"). The recipient's preference
    for the kind and channel decides: off (no row), digest (held for the daily digest) or
    immediately (the default but for the email and LINE of `DIGEST_BY_DEFAULT`, and what a
    "*" preference row sets for every kind). In-app rows are delivered by being inserted; a
    LINE row is made for a recipient who linked a LINE account; a webhook row per (event,
    endpoint) and a LINE row per (event, group) of a unit in which a recipient holds an
    active role. One INSERT … SELECT … ON CONFLICT DO NOTHING: rows whose key exists already
    are skipped, however many runs race.

    `serialised` (PostgreSQL): the caller holds a lock that every transaction inserting these
    keys takes first, and the candidates have one row per (key, recipient), so a plain
    INSERT of the keys not there yet suffices: no arbiter check and confirmation per row, no
    sorting for the lock order (a deadline run's first pass inserts 100,000 rows per rule).
    `key_prefix`: every candidate's key starts with it (a deadline rule's "deadline:<id>:"),
    so only existing keys in that range are compared, not the whole table's.
    """
    dialect = dialect_of(session)
    candidate = candidates.cte("candidate")
    now_value = literal(now, UTCDateTime)
    lease_value = literal(now + requeue_after, UTCDateTime)

    def mode_of(channel: Channel) -> tuple[Any, Any, Any]:
        specific = aliased(NotificationPreference)
        every_kind = aliased(NotificationPreference)
        default: Any = literal(DeliveryMode.IMMEDIATE.value)
        if channel is Channel.EMAIL:
            default = case(
                (candidate.c.kind.in_(sorted(DIGEST_BY_DEFAULT)), DeliveryMode.DIGEST.value),
                else_=DeliveryMode.IMMEDIATE.value,
            )
        mode = func.coalesce(specific.mode, every_kind.mode, default)
        joins = (
            (
                specific,
                and_(
                    specific.user_id == candidate.c.recipient_id,
                    specific.kind == candidate.c.kind,
                    specific.channel == channel,
                ),
            ),
            (
                every_kind,
                and_(
                    every_kind.user_id == candidate.c.recipient_id,
                    every_kind.kind == "*",
                    every_kind.channel == channel,
                ),
            ),
        )
        return mode, joins, specific

    def key(channel: Channel, *suffix: Any) -> Any:
        return concat_text(
            candidate.c.key, ":user:", candidate.c.recipient_id, ":", channel.value, *suffix
        )

    selects = []
    state: Any
    sent_at: Any
    lease: Any
    for channel in (Channel.IN_APP, Channel.EMAIL):
        mode, joins, _specific = mode_of(channel)
        held = mode == DeliveryMode.DIGEST.value
        if channel is Channel.IN_APP:
            state = case((held, DeliveryState.DIGEST.value), else_=DeliveryState.SENT.value)
            sent_at = case((held, null()), else_=now_value)
            lease = null()
        else:
            state = case((held, DeliveryState.DIGEST.value), else_=DeliveryState.PENDING.value)
            sent_at = null()
            lease = case((held, null()), else_=lease_value)
        query = select(
            candidate.c.recipient_id,
            candidate.c.kind,
            candidate.c.object_type,
            candidate.c.object_id,
            literal(channel.value).label("channel"),
            candidate.c.payload,
            key(channel).label("delivery_key"),
            state.label("state"),
            literal(0).label("attempts"),
            literal("").label("last_error"),
            now_value.label("created_at"),
            sent_at.label("sent_at"),
            lease.label("lease_until"),
            no_id().label("endpoint_id"),
            no_id().label("line_group_id"),
        ).select_from(candidate)
        for alias, on in joins:
            query = query.outerjoin(alias, on)
        selects.append(query.where(mode != DeliveryMode.OFF.value))

    # LINE, a person's own account: like mail (preferences, the digest), for people who
    # linked one.
    mode, joins, _specific = mode_of(Channel.LINE)
    held = mode == DeliveryMode.DIGEST.value
    account = aliased(LineAccount)
    personal_line = (
        select(
            candidate.c.recipient_id,
            candidate.c.kind,
            candidate.c.object_type,
            candidate.c.object_id,
            literal(Channel.LINE.value).label("channel"),
            candidate.c.payload,
            key(Channel.LINE).label("delivery_key"),
            case((held, DeliveryState.DIGEST.value), else_=DeliveryState.PENDING.value).label(
                "state"
            ),
            literal(0).label("attempts"),
            literal("").label("last_error"),
            now_value.label("created_at"),
            null().label("sent_at"),
            case((held, null()), else_=lease_value).label("lease_until"),
            no_id().label("endpoint_id"),
            no_id().label("line_group_id"),
        )
        .select_from(candidate)
        .join(
            account,
            and_(account.user_id == candidate.c.recipient_id, account.line_user_id.is_not(None)),
        )
    )
    for alias, on in joins:
        personal_line = personal_line.outerjoin(alias, on)
    selects.append(personal_line.where(mode != DeliveryMode.OFF.value))

    # A unit's webhook endpoints and LINE groups: ONE row per (event, endpoint) and per
    # (event, group), however many of the unit's people the event tells; made when at least
    # one person told holds an active role in the unit. The row's recipient is the first of
    # them (lowest id). An endpoint's kinds are its filter; a person's preferences are their
    # own channels' and do not silence their unit's.
    def unit_rows(channel: Channel, target: Any, active: Any, kinds: Any, tag: str) -> Select:
        assignment = aliased(RoleAssignment)
        firsts = (
            select(
                candidate.c.key.label("key"),
                target.id.label("target_id"),
                func.min(candidate.c.recipient_id).label("recipient_id"),
            )
            .select_from(candidate)
            .join(
                assignment,
                and_(
                    assignment.user_id == candidate.c.recipient_id,
                    assignment.withdrawn_at.is_(None),
                ),
            )
            .join(target, and_(target.unit_id == assignment.unit_id, active))
            .where(kinds)
            .group_by(candidate.c.key, target.id)
            .subquery(f"first_{tag.replace('-', '_')}")
        )
        is_hook = channel is Channel.WEBHOOK
        return (
            select(
                candidate.c.recipient_id,
                candidate.c.kind,
                candidate.c.object_type,
                candidate.c.object_id,
                literal(channel.value).label("channel"),
                candidate.c.payload,
                concat_text(candidate.c.key, f":{tag}:", firsts.c.target_id).label("delivery_key"),
                literal(DeliveryState.PENDING.value).label("state"),
                literal(0).label("attempts"),
                literal("").label("last_error"),
                now_value.label("created_at"),
                null().label("sent_at"),
                lease_value.label("lease_until"),
                (firsts.c.target_id if is_hook else no_id()).label("endpoint_id"),
                (no_id() if is_hook else firsts.c.target_id).label("line_group_id"),
            )
            .select_from(firsts)
            .join(
                candidate,
                and_(
                    candidate.c.key == firsts.c.key,
                    candidate.c.recipient_id == firsts.c.recipient_id,
                ),
            )
        )

    endpoint = aliased(WebhookEndpoint)
    selects.append(
        unit_rows(
            Channel.WEBHOOK,
            endpoint,
            endpoint.withdrawn_at.is_(None),
            or_(
                func.json_array_length(endpoint.kinds) == 0,
                json_array_has(dialect, endpoint.kinds, candidate.c.kind),
            ),
            "webhook",
        )
    )
    group = aliased(LineGroup)
    selects.append(
        unit_rows(
            Channel.LINE,
            group,
            and_(group.left_at.is_(None), group.unit_id.is_not(None)),
            true(),
            "line-group",
        )
    )

    columns = [
        "recipient_id",
        "kind",
        "object_type",
        "object_id",
        "channel",
        "payload",
        "delivery_key",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
        "lease_until",
        "endpoint_id",
        "line_group_id",
    ]
    every = union_all(*selects).subquery("every_channel")
    existing = aliased(Notification)
    # Keys already delivered are left out before sorting (an hourly rerun finds nearly all of
    # them there); ON CONFLICT still settles a key a concurrent run inserts meanwhile, unless
    # the caller's lock makes runs take turns (`serialised`).
    known = exists().where(existing.delivery_key == every.c.delivery_key)
    if key_prefix:
        # A range of the unique index (keys compare bytewise): the rows of one rule, not the
        # history of every notification.
        following = key_prefix[:-1] + chr(ord(key_prefix[-1]) + 1)
        known = known.where(existing.delivery_key >= key_prefix, existing.delivery_key < following)
    fresh = select(*every.c).where(~known)
    if serialised and dialect == "postgresql":
        statement = (
            insert(Notification)
            .from_select(columns, fresh)
            .returning(Notification.id, Notification.state)
        )
    else:
        statement = (
            upsert_insert(dialect, Notification)
            # In key order: two runs racing over the same keys lock them in the same order,
            # so the later one waits for the first and skips, instead of deadlocking.
            .from_select(columns, fresh.order_by(every.c.delivery_key))
            .on_conflict_do_nothing(index_elements=["delivery_key"])
            .returning(Notification.id, Notification.state)
        )
    if dialect == "postgresql":
        # Only the rows to dispatch come back: a deadline run's first pass inserts a quarter
        # of a million rows, nearly all in-app or held for the digest.
        inserted = statement.cte("inserted")
        return list(
            session.scalars(
                select(inserted.c.id)
                .where(inserted.c.state == DeliveryState.PENDING)
                .order_by(inserted.c.id)
            )
        )
    rows = session.execute(statement).all()
    return sorted(row.id for row in rows if row.state == DeliveryState.PENDING)


@dataclass
class RelayBatch:
    """What one relay transaction did: the events it claimed, the rows to dispatch."""

    event_ids: list[int] = field(default_factory=list)
    dispatch_ids: list[int] = field(default_factory=list)


def relay_outbox(
    session: Session, *, now: datetime, requeue_after: timedelta, batch_size: int = 500
) -> RelayBatch:
    """Claim up to `batch_size` unrelayed events, stamp them relayed and insert their
    notifications, all in the caller's transaction (commit it, then dispatch).

    The claim is one UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) RETURNING
    on PostgreSQL, so concurrent relays take disjoint batches; SQLite has a single writer
    (transactions begin with BEGIN IMMEDIATE), so the same statement serialises them. A crash
    before commit rolls the stamp back with the notifications: nothing is lost, nothing is
    made twice.
    """
    pending = (
        select(OutboxEvent.id)
        .where(OutboxEvent.relayed_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(pending.scalar_subquery()))
        .values(relayed_at=now)
        .returning(OutboxEvent.id, OutboxEvent.kind)
        .execution_options(synchronize_session=False)
    ).all()
    batch = RelayBatch(event_ids=sorted(row.id for row in claimed))
    if not claimed:
        return batch
    candidates = event_candidates(batch.event_ids, {row.kind for row in claimed})
    if candidates is not None:
        batch.dispatch_ids = insert_notifications(
            session, candidates, now=now, requeue_after=requeue_after
        )
    return batch


def outbox_backlog(session: Session) -> tuple[int, datetime | None]:
    """How many events wait for the relay, and since when the oldest waits."""
    count, oldest = session.execute(
        select(func.count(OutboxEvent.id), func.min(OutboxEvent.created_at)).where(
            OutboxEvent.relayed_at.is_(None)
        )
    ).one()
    if isinstance(oldest, str):  # SQLite's min() loses the column type
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=utcnow().tzinfo)
    return int(count), oldest


def relay_outbox_after_commit(
    session: Session, _context: Any = None, _instances: Any = None
) -> None:
    """Session `before_flush`: a transaction that writes outbox events asks for a relay once
    it commits (beat relays every few seconds anyway; this makes it immediate). A nudge, sent
    from a background thread: a broker that is down never slows the request that has just
    committed."""
    if any(isinstance(obj, OutboxEvent) for obj in session.new):
        nudge_after_commit(session, RELAY_TASK)


# -- delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A claimed notification with what it takes to deliver it."""

    id: int
    channel: Channel
    kind: str
    object_type: str
    object_id: int
    payload: dict[str, Any]
    delivery_key: str
    attempts: int
    created_at: datetime
    recipient_id: int
    recipient_email: str
    recipient_name: str
    language: str
    endpoint_id: int | None = None
    endpoint_url: str = ""
    endpoint_secret: str = ""
    #: The unit a webhook endpoint or LINE group belongs to (a unit's delivery).
    unit_id: int | None = None
    #: The LINE user or group the message goes to ("" when none is linked any more).
    line_to: str = ""
    line_group_id: int | None = None

    @property
    def message_id(self) -> str:
        """The same Message-ID for every attempt: a duplicate is recognisable as one."""
        digest = hashlib.sha256(self.delivery_key.encode()).hexdigest()[:32]
        return f"<{digest}.{self.id}@tidtam>"


def _rule_names(session: Session, payloads: Sequence[dict[str, Any]]) -> dict[int, str]:
    """The names of the reminder rules reminders of `payloads` were made by."""
    wanted = {int(p["rule_id"]) for p in payloads if "rule_id" in p and "rule" not in p}
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(ReminderRule.id, ReminderRule.name).where(ReminderRule.id.in_(wanted))
        ).all()
    )


def with_rule_names(payload: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """A reminder's payload as it is sent (a webhook's document carries it): with its rule's
    name, which the deadline engine leaves out of the row it stores."""
    payload = dict(payload)
    if "rule_id" in payload and "rule" not in payload:
        payload["rule"] = names.get(int(payload["rule_id"]), "")
    return payload


def _deliveries(session: Session, ids: Sequence[int]) -> list[Delivery]:
    rows = session.execute(
        select(Notification, User.email, User.name, User.language, LineAccount.line_user_id)
        .join(User, User.id == Notification.recipient_id)
        .outerjoin(LineAccount, LineAccount.user_id == Notification.recipient_id)
        .where(Notification.id.in_(list(ids)))
        .order_by(Notification.id)
    ).all()

    def endpoint_of(n: Notification) -> int | None:
        if n.channel is not Channel.WEBHOOK:
            return None
        if n.endpoint_id is not None:
            return n.endpoint_id
        # Rows made before endpoints were a column of their own named them in the payload.
        found = n.payload.get("endpoint_id")
        return int(found) if found is not None else None

    endpoint_ids = {e for n, *_ in rows if (e := endpoint_of(n)) is not None}
    endpoints = {
        e.id: e
        for e in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))
        )
    }
    group_ids = {n.line_group_id for n, *_ in rows if n.line_group_id is not None}
    groups = {
        g.id: g for g in session.scalars(select(LineGroup).where(LineGroup.id.in_(group_ids)))
    }
    rule_names = _rule_names(session, [n.payload for n, *_ in rows])
    deliveries = []
    for n, email, name, language, line_user_id in rows:
        endpoint_id = endpoint_of(n)
        hook = endpoints.get(endpoint_id or 0)
        group = groups.get(n.line_group_id or 0)
        line_to = ""
        unit_id = hook.unit_id if hook else None
        if group is not None:
            # A group that left or was unlinked gets nothing more.
            line_to = group.group_id if group.left_at is None and group.unit_id else ""
            unit_id = group.unit_id
        elif n.channel is Channel.LINE:
            line_to = line_user_id or ""
        deliveries.append(
            Delivery(
                id=n.id,
                channel=n.channel,
                kind=n.kind,
                object_type=n.object_type,
                object_id=n.object_id,
                payload=with_rule_names(n.payload, rule_names),
                delivery_key=n.delivery_key,
                attempts=n.attempts,
                created_at=n.created_at,
                recipient_id=n.recipient_id,
                recipient_email=email,
                recipient_name=name,
                # A unit's delivery is read by many: in Thai, the unit's language.
                language="th" if (hook or group) else language,
                endpoint_id=endpoint_id,
                endpoint_url=hook.url if hook and hook.withdrawn_at is None else "",
                endpoint_secret=hook.secret if hook else "",
                unit_id=unit_id,
                line_to=line_to,
                line_group_id=n.line_group_id,
            )
        )
    return deliveries


@dataclass(frozen=True)
class ClaimResult:
    """A claim's answer: the delivery to make, or until when another worker holds the row
    (None when there is nothing to do: it is sent, failed, held for the digest, or gone)."""

    delivery: Delivery | None = None
    busy_until: datetime | None = None


def claim_delivery(
    session: Session, notification_id: int, *, now: datetime, lease: timedelta
) -> ClaimResult:
    """Take notification `notification_id` for delivery: pending → sending with a lease, or
    sending whose lease has ended (its worker died) → sending with a new lease. Commit before
    delivering. Counts the attempt."""
    claimed = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.channel != Channel.IN_APP,
            or_(
                Notification.state == DeliveryState.PENDING,
                and_(
                    Notification.state == DeliveryState.SENDING,
                    Notification.lease_until < now,
                ),
            ),
        )
        .values(
            state=DeliveryState.SENDING,
            lease_until=now + lease,
            attempts=Notification.attempts + 1,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is not None:
        return ClaimResult(delivery=_deliveries(session, [notification_id])[0])
    state, lease_until = session.execute(
        select(Notification.state, Notification.lease_until).where(
            Notification.id == notification_id
        )
    ).one_or_none() or (None, None)
    if state is DeliveryState.SENDING:
        return ClaimResult(busy_until=lease_until)
    return ClaimResult()


def record_sent(session: Session, notification_id: int, *, now: datetime) -> None:
    """The delivery happened: sending → sent."""
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.state == DeliveryState.SENDING)
        .values(state=DeliveryState.SENT, sent_at=now, lease_until=None, last_error="")
        .execution_options(synchronize_session=False)
    )


def record_failure(
    session: Session,
    notification_id: int,
    error: str,
    *,
    held_until: datetime,
    max_attempts: int,
) -> DeliveryState:
    """The delivery failed: back to pending (held until `held_until` for the retry the caller
    schedules) or, after `max_attempts`, failed for an admin to see. Returns the new state."""
    state = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.state == DeliveryState.SENDING)
        .values(
            state=case(
                (Notification.attempts >= max_attempts, DeliveryState.FAILED.value),
                else_=DeliveryState.PENDING.value,
            ),
            lease_until=case(
                (Notification.attempts >= max_attempts, null()),
                else_=literal(held_until, UTCDateTime),
            ),
            last_error=error[:2000],
        )
        .returning(Notification.state)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return DeliveryState(state) if state is not None else DeliveryState.SENT


def sweep_lost(session: Session, *, now: datetime, requeue_after: timedelta) -> list[int]:
    """Rows whose holder is gone: pending rows whose dispatch task was lost (a broker restart
    forgets its queue) and sending rows whose worker died. Both become pending, held anew for
    the dispatch task the caller sends after commit. Returns their ids."""
    rows = session.execute(
        update(Notification)
        .where(
            Notification.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
            Notification.lease_until < now,
        )
        .values(state=DeliveryState.PENDING, lease_until=now + requeue_after)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(row.id for row in rows)


# -- the daily digest ---------------------------------------------------------------------


#: The channels whose held rows a daily digest carries, one digest per person and channel.
DIGEST_CHANNELS = (Channel.EMAIL, Channel.LINE)


def digest_recipients(session: Session, *, now: datetime) -> list[int]:
    """Users with email or LINE messages held for the digest (not being sent by someone else
    right now). In-app rows held for the digest are released into the notification centre
    here."""
    session.execute(
        update(Notification)
        .where(Notification.state == DeliveryState.DIGEST, Notification.channel == Channel.IN_APP)
        .values(state=DeliveryState.SENT, sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(Notification.recipient_id)
            .where(
                Notification.state == DeliveryState.DIGEST,
                Notification.channel.in_(DIGEST_CHANNELS),
                or_(Notification.lease_until.is_(None), Notification.lease_until < now),
            )
            .distinct()
            .order_by(Notification.recipient_id)
        )
    )


def open_digests(
    session: Session,
    user_ids: Sequence[int],
    *,
    day: date,
    now: datetime,
    requeue_after: timedelta,
) -> list[int]:
    """One digest per user, channel (email, LINE) and Bangkok `day`: a notification of kind
    "digest" whose key "digest:<day>:user:<id>:<channel>" is unique in the database, carrying
    the ids of the user's rows of that channel held for it (they become sent: the digest
    delivers them). A second run the same day, or two at once, inserts nothing and leaves
    newly held rows for tomorrow's digest. The digest rows are pending, leased for the
    dispatch task the caller sends after commit, and delivered by the claim-then-send path of
    every other message. Returns their ids.
    """
    dialect = dialect_of(session)
    opened = []
    for user_id in user_ids:
        for channel in DIGEST_CHANNELS:
            held = list(
                session.scalars(
                    select(Notification.id)
                    .where(
                        Notification.recipient_id == user_id,
                        Notification.state == DeliveryState.DIGEST,
                        Notification.channel == channel,
                        or_(Notification.lease_until.is_(None), Notification.lease_until < now),
                    )
                    .order_by(Notification.id)
                    # A run for another day waits here and then finds these rows sent.
                    .with_for_update()
                )
            )
            if not held:
                continue
            digest_id = session.execute(
                upsert_insert(dialect, Notification)
                .values(
                    recipient_id=user_id,
                    kind=DIGEST_KIND,
                    object_type="user",
                    object_id=user_id,
                    channel=channel.value,
                    payload={"day": day.isoformat(), "items": held},
                    delivery_key=f"digest:{day.isoformat()}:user:{user_id}:{channel.value}",
                    state=DeliveryState.PENDING.value,
                    attempts=0,
                    last_error="",
                    created_at=now,
                    lease_until=now + requeue_after,
                )
                .on_conflict_do_nothing(index_elements=["delivery_key"])
                .returning(Notification.id)
            ).scalar_one_or_none()
            if digest_id is None:
                continue  # this day's digest is made already
            session.execute(
                update(Notification)
                .where(Notification.id.in_(held), Notification.state == DeliveryState.DIGEST)
                .values(state=DeliveryState.SENT, sent_at=now, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            opened.append(digest_id)
    return opened


def digest_items(session: Session, digest: Delivery) -> list[Delivery]:
    """The notifications a digest row carries."""
    return _deliveries(session, [int(i) for i in digest.payload.get("items", [])])


# -- what people do -----------------------------------------------------------------------


def mark_read(
    session: Session, user: User, ids: Sequence[int] | None = None, *, now: datetime
) -> int:
    """Mark the user's in-app notifications read (`ids`, or all). Returns how many changed."""
    statement = (
        update(Notification)
        .where(
            Notification.recipient_id == user.id,
            Notification.channel == Channel.IN_APP,
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(list(ids)))
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def retry_failed(
    session: Session, notification_id: int, *, now: datetime, requeue_after: timedelta
) -> bool:
    """An admin asks for a failed delivery to be tried again: failed → pending with fresh
    attempts, dispatched after commit. Returns False when it was not failed."""
    changed = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.state == DeliveryState.FAILED)
        .values(
            state=DeliveryState.PENDING,
            attempts=0,
            lease_until=now + requeue_after,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        return False
    enqueue_after_commit(session, DISPATCH_TASK, [notification_id])
    return True


def set_preference(
    session: Session, user: User, kind: str, channel: Channel, mode: DeliveryMode
) -> NotificationPreference:
    """How `user` wants to hear of `kind` on `channel` ("*" for every kind). Flushes."""
    preference = session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user.id,
            NotificationPreference.kind == kind,
            NotificationPreference.channel == channel,
        )
    )
    if preference is None:
        preference = NotificationPreference(user_id=user.id, kind=kind, channel=channel, mode=mode)
        session.add(preference)
    else:
        preference.mode = mode
    session.flush()
    return preference


def retry_failed_by(
    session: Session,
    actor: User,
    notification_id: int,
    *,
    now: datetime,
    requeue_after: timedelta,
) -> bool:
    """An admin of the whole tree retries one failed delivery (audited). Returns False when
    it had not failed. Raises Refused(403) for anyone else."""
    require(may_administer(session, actor, None, _("retry failed notifications")))
    return _retry_recorded(session, actor, notification_id, now, requeue_after)


def _retry_recorded(
    session: Session,
    actor: User,
    notification_id: int,
    now: datetime,
    requeue_after: timedelta,
    **about: Any,
) -> bool:
    """`retry_failed` by `actor`, with its audit row (`about` adds to its changes). False,
    and nothing recorded, when the delivery had not failed."""
    if not retry_failed(session, notification_id, now=now, requeue_after=requeue_after):
        return False
    record(
        session,
        action="notification.retry",
        object_type="notification",
        object_id=notification_id,
        actor=actor,
        changes={"state": ["failed", "pending"], **about},
    )
    return True


def retry_failed_all(
    session: Session,
    actor: User,
    *,
    channel: Channel | None = None,
    kind: str | None = None,
    now: datetime,
    requeue_after: timedelta,
) -> list[int]:
    """An admin of the whole tree asks for every failed delivery (of `channel`, of `kind`,
    or all) to be tried again: failed → pending with fresh attempts, dispatched after
    commit, one audit row naming the filter and how many. Returns their ids. Raises
    Refused(403) for anyone else."""
    require(may_administer(session, actor, None, _("retry failed notifications")))
    statement = (
        update(Notification)
        .where(Notification.state == DeliveryState.FAILED)
        .values(state=DeliveryState.PENDING, attempts=0, lease_until=now + requeue_after)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    if channel is not None:
        statement = statement.where(Notification.channel == channel)
    if kind:
        statement = statement.where(Notification.kind == kind)
    ids = sorted(row.id for row in session.execute(statement))
    record(
        session,
        action="notification.retry_all",
        object_type="notification",
        object_id=ids[0] if ids else 0,
        actor=actor,
        changes={
            "channel": channel.value if channel else None,
            "kind": kind or None,
            "count": len(ids),
            "ids": ids[:1000],
        },
    )
    for batch in chunks(ids):
        enqueue_after_commit(session, DISPATCH_TASK, batch)
    return ids


# -- webhook endpoints, managed ------------------------------------------------------------


def new_webhook_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe."""
    return "whsec_" + secrets.token_urlsafe(32)


def _endpoint_fields(session: Session, url: str, kinds: Sequence[str], name: str) -> dict[str, Any]:
    from service.notifications.queries import PREFERENCE_KINDS

    url = (url or "").strip()
    if not url.startswith(("http://", "https://")):
        raise Refused(422, _("an http(s) address"), fields={"url": _("an http(s) address")})
    if len(url) > 500:
        reason = _("at most %(count)s characters", count=500)
        raise Refused(422, reason, fields={"url": reason})
    if "@" in urlsplit(url).netloc:
        # It would be shown in clear in the list and sent on every delivery; the receiver
        # checks the signature (X-Tidtam-Signature) instead.
        reason = _("must not contain a user name or password")
        raise Refused(422, reason, fields={"url": reason})
    _refuse_local_address(url)
    unknown = sorted(set(kinds) - set(PREFERENCE_KINDS))
    if unknown:
        reason = _("unknown kinds: %(kinds)s", kinds=", ".join(unknown))
        raise Refused(422, reason, fields={"kinds": reason})
    name = (name or "").strip()
    if len(name) > 100:
        reason = _("at most %(count)s characters", count=100)
        raise Refused(422, reason, fields={"name": reason})
    return {"url": url, "kinds": sorted(set(kinds)), "name": name}


def _address_words() -> dict[str, str]:
    from service.notifications import webhook

    return {
        webhook.LOOPBACK: _("a loopback address (this server itself)"),
        webhook.LINK_LOCAL: _("a link-local address (such as a cloud's metadata service)"),
        webhook.UNSPECIFIED: _("an unspecified address"),
        webhook.MULTICAST: _("a multicast address"),
        webhook.PRIVATE: _("a private network address"),
        webhook.RESERVED: _("a reserved address"),
        webhook.NOT_PUBLIC: _("a special-use address"),
    }


def _refuse_local_address(url: str) -> None:
    """Refused(422) for an address whose host is, or resolves to, one webhooks may not go to
    (service.notifications.webhook; delivery checks again), unless the deployment allows it
    (WEBHOOK_ALLOW_PRIVATE_ADDRESSES)."""
    from service.notifications import webhook

    allow = has_app_context() and bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"))
    try:
        problem = webhook.url_problem(url, allow_private=allow)
    except ValueError:
        raise Refused(
            422, _("an http(s) address"), fields={"url": _("an http(s) address")}
        ) from None
    if problem is None:
        return
    if problem.address == problem.host:
        what = _(
            "%(host)s is %(what)s; webhooks are sent only to public internet addresses",
            host=problem.host,
            what=_address_words()[problem.problem],
        )
    else:
        what = _(
            "%(host)s is %(what)s (%(address)s); webhooks are sent only to public internet"
            " addresses",
            host=problem.host,
            what=_address_words()[problem.problem],
            address=problem.address,
        )
    raise Refused(422, f"{field_label('url')}: {what}", fields={"url": what})


def _require_endpoint_admin(session: Session, actor: User, unit: OrgUnit) -> None:
    require(may_administer(session, actor, unit, _("manage this unit's webhooks")))


def create_webhook(
    session: Session,
    actor: User,
    unit: OrgUnit,
    *,
    url: str,
    kinds: Sequence[str] = (),
    name: str = "",
) -> tuple[WebhookEndpoint, str]:
    """A webhook endpoint of `unit` and its secret (to show once). Raises Refused(403) unless
    `actor` administers the unit, Refused(422) for a bad address or an unknown kind."""
    _require_endpoint_admin(session, actor, unit)
    fields = _endpoint_fields(session, url, kinds, name)
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint(unit_id=unit.id, secret=secret, **fields)
    session.add(endpoint)
    session.flush()
    record(
        session,
        action="webhook.create",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        actor=actor,
        changes={"unit_id": [None, unit.id], **{k: [None, v] for k, v in fields.items()}},
    )
    return endpoint, secret


def update_webhook(
    session: Session,
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    kinds: Sequence[str] | None = None,
    name: str | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's address, kinds or name. Raises as `create_webhook`, and
    Refused(409) for a withdrawn endpoint."""
    _require_endpoint_admin(session, actor, _unit(session, endpoint.unit_id))
    if endpoint.withdrawn_at is not None:
        raise Refused(409, _("the webhook is withdrawn"))
    before = {"url": endpoint.url, "kinds": list(endpoint.kinds), "name": endpoint.name}
    after = _endpoint_fields(
        session,
        endpoint.url if url is None else url,
        endpoint.kinds if kinds is None else kinds,
        endpoint.name if name is None else name,
    )
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    if not changes:
        return endpoint
    for field_name, value in after.items():
        setattr(endpoint, field_name, value)
    session.flush()
    record(
        session,
        action="webhook.update",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        actor=actor,
        changes=changes,
    )
    return endpoint


def rotate_webhook_secret(
    session: Session, actor: User, endpoint: WebhookEndpoint, *, now: datetime
) -> str:
    """A new secret for `endpoint` (to show once); deliveries from now on are signed with it.
    The audit row says it was rotated, never what it is."""
    _require_endpoint_admin(session, actor, _unit(session, endpoint.unit_id))
    if endpoint.withdrawn_at is not None:
        raise Refused(409, _("the webhook is withdrawn"))
    secret = new_webhook_secret()
    endpoint.secret = secret
    endpoint.secret_rotated_at = now
    session.flush()
    record(
        session,
        action="webhook.rotate_secret",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        actor=actor,
        changes={"secret_rotated_at": [None, now.isoformat()]},
    )
    return secret


def withdraw_webhook(
    session: Session, actor: User, endpoint: WebhookEndpoint, *, now: datetime
) -> WebhookEndpoint:
    """Stop delivering to `endpoint` (kept, stamped withdrawn; its log stays). Refused(409)
    for one withdrawn already (a second press, a page left open: nothing is changed or
    recorded, and no door reports it done again)."""
    _require_endpoint_admin(session, actor, _unit(session, endpoint.unit_id))
    # The row is locked first (PostgreSQL): two presses at once withdraw it once.
    session.refresh(endpoint, with_for_update=True)
    if endpoint.withdrawn_at is not None:
        raise Refused(
            409,
            _(
                "the webhook “%(name)s” (%(url)s) was already withdrawn: nothing changed",
                name=endpoint.name,
                url=endpoint.url,
            ),
            state="withdrawn",
        )
    endpoint.withdrawn_at = now
    session.flush()
    record(
        session,
        action="webhook.withdraw",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        actor=actor,
        changes={"withdrawn": [False, True]},
    )
    return endpoint


def send_webhook_test(
    session: Session,
    actor: User,
    endpoint: WebhookEndpoint,
    *,
    now: datetime,
    requeue_after: timedelta,
) -> Notification:
    """Queue a test delivery to `endpoint`: a notification of kind "webhook.test" delivered
    like any other (signed, once, in the endpoint's log), dispatched after commit."""
    _require_endpoint_admin(session, actor, _unit(session, endpoint.unit_id))
    if endpoint.withdrawn_at is not None:
        raise Refused(409, _("the webhook is withdrawn"))
    test = Notification(
        recipient_id=actor.id,
        kind="webhook.test",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        channel=Channel.WEBHOOK,
        payload={},
        delivery_key=f"test:webhook:{endpoint.id}:{secrets.token_hex(8)}",
        state=DeliveryState.PENDING,
        attempts=0,
        last_error="",
        created_at=now,
        lease_until=now + requeue_after,
        endpoint_id=endpoint.id,
    )
    session.add(test)
    session.flush()
    record(
        session,
        action="webhook.test",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        actor=actor,
        changes={"notification_id": [None, test.id]},
    )
    enqueue_after_commit(session, DISPATCH_TASK, [test.id])
    return test


def retry_endpoint_delivery(
    session: Session,
    actor: User,
    endpoint: WebhookEndpoint,
    notification_id: int,
    *,
    now: datetime,
    requeue_after: timedelta,
) -> bool:
    """An admin of the endpoint's unit retries one failed delivery of its log (audited).
    Returns False when that delivery has not failed."""
    _require_endpoint_admin(session, actor, _unit(session, endpoint.unit_id))
    found = session.scalar(
        select(Notification.id).where(
            Notification.id == notification_id, Notification.endpoint_id == endpoint.id
        )
    )
    if found is None:
        raise missing("notification", notification_id)
    return _retry_recorded(
        session, actor, notification_id, now, requeue_after, endpoint_id=endpoint.id
    )


def _unit(session: Session, unit_id: int | None) -> OrgUnit:
    unit = session.get(OrgUnit, unit_id) if unit_id is not None else None
    if unit is None:
        raise missing("org_unit", unit_id)
    return unit


# -- LINE: people and groups linked with one-time codes --------------------------------------

#: How long a link code may be sent or typed after it was made.
LINK_CODE_LIFETIME = timedelta(minutes=30)


def _new_code(session: Session) -> str:
    # Eight digits: typed on a phone in any keyboard layout; a guess is one in 10^8 and a
    # code lives half an hour.
    while True:
        code = f"{secrets.randbelow(10**8):08d}"
        if session.scalar(select(LineLinkCode.id).where(LineLinkCode.code == code)) is None:
            return code


def may_link_line_group(session: Session, user: User, unit: OrgUnit) -> Answer:
    """An officer or admin of the unit (or above it) links it to a LINE group."""
    if administers(session, user, unit) or holds_any(session, user, [Role.OFFICER], unit):
        return ALLOW
    return deny(_("only an officer or admin of this unit may link it to a LINE group"))


def make_line_code(
    session: Session, actor: User, *, unit: OrgUnit | None = None, now: datetime
) -> LineLinkCode:
    """A one-time code: for `actor`'s own LINE account, or (with `unit`) for a LINE group of
    the unit. Earlier unused codes of the same purpose stop working."""
    if unit is not None:
        require(may_link_line_group(session, actor, unit))
    session.execute(
        update(LineLinkCode)
        .where(
            LineLinkCode.user_id == actor.id,
            LineLinkCode.used_at.is_(None),
            LineLinkCode.unit_id.is_(None) if unit is None else LineLinkCode.unit_id == unit.id,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = LineLinkCode(
        code=_new_code(session),
        user_id=actor.id,
        unit_id=unit.id if unit else None,
        created_at=now,
        expires_at=now + LINK_CODE_LIFETIME,
    )
    session.add(code)
    session.flush()
    return code


def _take_code(
    session: Session, text: str, *, now: datetime, for_unit: bool
) -> LineLinkCode | None:
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 8 or len(text.strip()) > 20:
        return None
    code = session.scalar(
        select(LineLinkCode)
        .where(
            LineLinkCode.code == digits,
            LineLinkCode.used_at.is_(None),
            LineLinkCode.expires_at > now,
            LineLinkCode.unit_id.is_not(None) if for_unit else LineLinkCode.unit_id.is_(None),
        )
        .with_for_update()
    )
    if code is not None:
        code.used_at = now
    return code


def line_group_joined(session: Session, group_id: str, *, now: datetime) -> LineGroup:
    """The bot was invited to `group_id` (its join event): known from now on, linked to no
    unit until someone types a unit's code in it. A group that left and came back is kept."""
    group = session.scalar(select(LineGroup).where(LineGroup.group_id == group_id))
    if group is None:
        group = LineGroup(group_id=group_id, joined_at=now)
        session.add(group)
    else:
        group.left_at = None
        group.joined_at = now
    session.flush()
    record(session, action="line_group.join", object_type="line_group", object_id=group.id)
    return group


def line_group_left(session: Session, group_id: str, *, now: datetime) -> LineGroup | None:
    """The bot was removed from `group_id` (its leave event): nothing more is sent to it."""
    group = session.scalar(select(LineGroup).where(LineGroup.group_id == group_id))
    if group is None or group.left_at is not None:
        return group
    group.left_at = now
    session.flush()
    record(
        session,
        action="line_group.leave",
        object_type="line_group",
        object_id=group.id,
        changes={"unit_id": group.unit_id},
    )
    return group


def line_message_received(
    session: Session, *, user_id: str, group_id: str, text: str, now: datetime
) -> str | None:
    """A text sent to the Official Account (`group_id` "") or typed in a group the bot is in.
    A live person's code links the sender's LINE account to that person; a live unit's code
    typed in a group links the group to the unit (by the person who made the code, who may
    still link it). Anything else is ignored. Returns what was linked ("account", "group")
    or None."""
    if group_id:
        code = _take_code(session, text, now=now, for_unit=True)
        if code is None:
            return None
        maker = session.get(User, code.user_id)
        unit = session.get(OrgUnit, code.unit_id)
        if maker is None or unit is None or not maker.active:
            return None
        if not may_link_line_group(session, maker, unit):
            return None
        group = session.scalar(select(LineGroup).where(LineGroup.group_id == group_id))
        if group is None:  # the join event was lost: the message proves the bot is there
            group = LineGroup(group_id=group_id, joined_at=now)
            session.add(group)
        before = group.unit_id
        group.unit_id = unit.id
        group.left_at = None
        group.linked_at = now
        group.linked_by_id = maker.id
        session.flush()
        record(
            session,
            action="line_group.link",
            object_type="line_group",
            object_id=group.id,
            actor=maker,
            changes={"unit_id": [before, unit.id]},
        )
        # No actor: the one who linked it is told (the confirmation; the group hears it too
        # when they hold a role in its unit).
        emit(
            session,
            kind="line_group.link",
            object_type="line_group",
            object_id=group.id,
            payload={"user_id": maker.id},
        )
        return "group"
    if not user_id:
        return None
    code = _take_code(session, text, now=now, for_unit=False)
    if code is None:
        return None
    person = session.get(User, code.user_id)
    if person is None or not person.active:
        return None
    # One LINE account is one person's: linking it here unlinks it from anyone else.
    session.execute(
        update(LineAccount)
        .where(LineAccount.line_user_id == user_id, LineAccount.user_id != person.id)
        .values(line_user_id=None, linked_at=None)
        .execution_options(synchronize_session=False)
    )
    account = session.scalar(select(LineAccount).where(LineAccount.user_id == person.id))
    if account is None:
        account = LineAccount(user_id=person.id)
        session.add(account)
    account.line_user_id = user_id
    account.linked_at = now
    session.flush()
    record(
        session,
        action="line_account.link",
        object_type="user",
        object_id=person.id,
        actor=person,
        changes={"line": [False, True]},
    )
    # No actor: the person is told, on the LINE account just linked, that it works.
    emit(
        session,
        kind="line_account.link",
        object_type="user",
        object_id=person.id,
        payload={"user_id": person.id},
    )
    return "account"


def unlink_line_account(session: Session, actor: User) -> bool:
    """`actor` stops hearing on LINE: their account is unlinked. False when none was."""
    account = session.scalar(select(LineAccount).where(LineAccount.user_id == actor.id))
    if account is None or account.line_user_id is None:
        return False
    account.line_user_id = None
    account.linked_at = None
    session.flush()
    record(
        session,
        action="line_account.unlink",
        object_type="user",
        object_id=actor.id,
        actor=actor,
        changes={"line": [True, False]},
    )
    return True


def unlink_line_group(session: Session, actor: User, group: LineGroup) -> LineGroup:
    """The group stops hearing of the unit's events (the bot stays in it)."""
    if group.unit_id is None:
        return group
    unit = _unit(session, group.unit_id)
    require(may_link_line_group(session, actor, unit))
    before = group.unit_id
    group.unit_id = None
    group.linked_at = None
    session.flush()
    record(
        session,
        action="line_group.unlink",
        object_type="line_group",
        object_id=group.id,
        actor=actor,
        changes={"unit_id": [before, None]},
    )
    return group
