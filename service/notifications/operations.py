"""Notification operations: rows made from outbox events and reminders, claimed for delivery,
their outcome recorded, lost work swept up, and what people do with them (read, retry).

Exactly once, per (event or reminder occurrence, recipient, channel):

- Creation: every row has a `delivery_key` naming that triple, unique in the database, and is
  inserted with INSERT … ON CONFLICT (delivery_key) DO NOTHING. Two relays, two deadline runs
  or a rerun after a crash insert nothing new.
- Delivery: a row is claimed before anything leaves the building (pending → sending, with a
  lease) and that claim is committed; the mail or webhook is sent outside any transaction; the
  row is then marked sent. A duplicate task finds the row sending (or sent) and does nothing.
  A worker killed mid-send leaves the row sending; when the lease ends the retried task (acks
  late, so the message comes back) or the sweep takes it over and sends it again.
- What remains: a process that dies after the SMTP server accepted the mail but before the
  row is marked sent makes the retry send it again; no protocol can close that gap with SMTP.
  Both copies carry the same Message-ID (derived from the delivery key), so mail stores and
  the tests recognise the duplicate. The window is a few milliseconds against seconds for a
  claim held without a lease, and a crash before the server's answer sends nothing twice.

Operations flush or execute and never commit; the caller (a task or a request) commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import (
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from service.audit.models import OutboxEvent
from service.core.db import UTCDateTime, utcnow
from service.core.sql import concat_text, dialect_of, json_array_has, json_with, upsert_insert
from service.core.tasks import TaskName, enqueue_after_commit, nudge_after_commit
from service.notifications.models import (
    Channel,
    DeliveryMode,
    DeliveryState,
    Notification,
    NotificationPreference,
    WebhookEndpoint,
)
from service.notifications.recipients import event_candidates
from service.org.models import RoleAssignment, User

RELAY_TASK = TaskName.OUTBOX_RELAY
DISPATCH_TASK = TaskName.NOTIFICATIONS_DISPATCH
#: Notification ids per dispatch task: one task per batch, not per alert.
DISPATCH_BATCH = 100


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
) -> list[int]:
    """Insert one notification per channel for each candidate row and return the ids of the
    new rows a dispatch task must deliver (email and webhook, not held for the digest).

    `candidates` has the columns recipient_id, kind, object_type, object_id, payload (JSON) and
    key (the delivery key up to the recipient, e.g. "event:42"). The recipient's preference
    for the kind and channel decides: off (no row), digest (held for the daily digest) or
    immediately (the default, and what a "*" preference row sets for every kind). In-app rows
    are delivered by being inserted; a webhook row is made per endpoint of a unit in which
    the recipient holds an active role. One INSERT … SELECT … ON CONFLICT DO NOTHING: rows
    whose key exists already are skipped, however many runs race.
    """
    dialect = dialect_of(session)
    candidate = candidates.cte("candidate")
    now_value = literal(now, UTCDateTime)
    lease_value = literal(now + requeue_after, UTCDateTime)

    def mode_of(channel: Channel) -> tuple[Any, Any, Any]:
        specific = aliased(NotificationPreference)
        every_kind = aliased(NotificationPreference)
        mode = func.coalesce(specific.mode, every_kind.mode, DeliveryMode.IMMEDIATE.value)
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
        ).select_from(candidate)
        for alias, on in joins:
            query = query.outerjoin(alias, on)
        selects.append(query.where(mode != DeliveryMode.OFF.value))

    # Webhooks: per endpoint of a unit where the recipient holds a role. A digest preference
    # is not offered for webhooks (a chat channel wants the event now); off is honoured.
    mode, joins, _specific = mode_of(Channel.WEBHOOK)
    assignment = aliased(RoleAssignment)
    endpoint = aliased(WebhookEndpoint)
    webhook = (
        select(
            candidate.c.recipient_id,
            candidate.c.kind,
            candidate.c.object_type,
            candidate.c.object_id,
            literal(Channel.WEBHOOK.value).label("channel"),
            json_with(dialect, candidate.c.payload, "endpoint_id", endpoint.id),
            key(Channel.WEBHOOK, ":", endpoint.id).label("delivery_key"),
            literal(DeliveryState.PENDING.value).label("state"),
            literal(0).label("attempts"),
            literal("").label("last_error"),
            now_value.label("created_at"),
            null().label("sent_at"),
            lease_value.label("lease_until"),
        )
        .select_from(candidate)
        .join(
            assignment,
            and_(
                assignment.user_id == candidate.c.recipient_id,
                assignment.withdrawn_at.is_(None),
            ),
        )
        .join(
            endpoint,
            and_(endpoint.unit_id == assignment.unit_id, endpoint.withdrawn_at.is_(None)),
        )
    )
    for alias, on in joins:
        webhook = webhook.outerjoin(alias, on)
    selects.append(
        webhook.where(
            mode != DeliveryMode.OFF.value,
            or_(
                func.json_array_length(endpoint.kinds) == 0,
                json_array_has(dialect, endpoint.kinds, candidate.c.kind),
            ),
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
    ]
    every = union_all(*selects).subquery("every_channel")
    existing = aliased(Notification)
    # Keys already delivered are left out before sorting (an hourly rerun finds nearly all of
    # them there); ON CONFLICT still settles a key a concurrent run inserts meanwhile.
    fresh = (
        select(*every.c)
        .where(~exists().where(existing.delivery_key == every.c.delivery_key))
        # In key order: two runs racing over the same keys lock them in the same order, so
        # the later one waits for the first and skips, instead of deadlocking.
        .order_by(every.c.delivery_key)
    )
    statement = (
        upsert_insert(dialect, Notification)
        .from_select(columns, fresh)
        .on_conflict_do_nothing(index_elements=["delivery_key"])
        .returning(Notification.id, Notification.state)
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
    endpoint_url: str = ""
    endpoint_secret: str = ""

    @property
    def message_id(self) -> str:
        """The same Message-ID for every attempt: a duplicate is recognisable as one."""
        digest = hashlib.sha256(self.delivery_key.encode()).hexdigest()[:32]
        return f"<{digest}.{self.id}@tidtam>"


def _deliveries(session: Session, ids: Sequence[int]) -> list[Delivery]:
    endpoint = aliased(WebhookEndpoint)
    rows = session.execute(
        select(Notification, User.email, User.name, User.language)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.id.in_(list(ids)))
        .order_by(Notification.id)
    ).all()
    endpoint_ids = {
        int(n.payload["endpoint_id"])
        for n, *_ in rows
        if n.channel is Channel.WEBHOOK and n.payload.get("endpoint_id") is not None
    }
    endpoints = {
        e.id: e for e in session.scalars(select(endpoint).where(endpoint.id.in_(endpoint_ids)))
    }
    deliveries = []
    for n, email, name, language in rows:
        hook = endpoints.get(int(n.payload.get("endpoint_id") or 0))
        deliveries.append(
            Delivery(
                id=n.id,
                channel=n.channel,
                kind=n.kind,
                object_type=n.object_type,
                object_id=n.object_id,
                payload=dict(n.payload),
                delivery_key=n.delivery_key,
                attempts=n.attempts,
                created_at=n.created_at,
                recipient_id=n.recipient_id,
                recipient_email=email,
                recipient_name=name,
                language=language,
                endpoint_url=hook.url if hook and hook.withdrawn_at is None else "",
                endpoint_secret=hook.secret if hook else "",
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


def digest_recipients(session: Session, *, now: datetime) -> list[int]:
    """Users with email held for the digest (not being sent by someone else right now).
    In-app rows held for the digest are released into the notification centre here."""
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
                Notification.channel == Channel.EMAIL,
                or_(Notification.lease_until.is_(None), Notification.lease_until < now),
            )
            .distinct()
            .order_by(Notification.recipient_id)
        )
    )


def claim_digest(
    session: Session, user_id: int, *, now: datetime, lease: timedelta
) -> list[Delivery]:
    """Take the user's email rows held for the digest (they stay in the digest state, leased,
    so a worker killed mid-send leaves them for the next digest run). Commit, send one mail,
    then `record_digest_sent`."""
    ids = session.scalars(
        update(Notification)
        .where(
            Notification.recipient_id == user_id,
            Notification.state == DeliveryState.DIGEST,
            Notification.channel == Channel.EMAIL,
            or_(Notification.lease_until.is_(None), Notification.lease_until < now),
        )
        .values(lease_until=now + lease, attempts=Notification.attempts + 1)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).all()
    return _deliveries(session, sorted(ids)) if ids else []


def record_digest_sent(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)), Notification.state == DeliveryState.DIGEST)
        .values(state=DeliveryState.SENT, sent_at=now, lease_until=None, last_error="")
        .execution_options(synchronize_session=False)
    )


def release_digest(session: Session, ids: Sequence[int], error: str) -> None:
    """A digest mail failed: give the rows back for the next digest run."""
    session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)), Notification.state == DeliveryState.DIGEST)
        .values(lease_until=None, last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


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
