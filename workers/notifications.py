"""Notification tasks: relay the outbox, dispatch batches of notifications, sweep lost work,
send the daily digest. Thin: the work is in service.notifications."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from flask import current_app

from service.core.db import db, utcnow
from service.core.logs import log_event
from service.core.queues import MAX_RETRY_COUNTDOWN, retry_countdown
from service.core.tasks import TaskName
from service.notifications.dispatch import deliver, deliver_digests
from service.notifications.operations import (
    DeliverySettings,
    chunks,
    digest_recipients,
    relay_outbox,
    sweep_lost,
)

log = logging.getLogger("tidtam.workers")

#: Events per relay transaction, and transactions per relay task before it hands over.
RELAY_BATCH = 500
RELAY_BATCHES_PER_TASK = 20
DIGEST_BATCH = 50


def enqueue_dispatch(ids: list[int]) -> int:
    """Send one dispatch task per batch of ids. A broker that is down loses nothing: the rows
    are pending under a lease, and the sweep re-queues them when it ends."""
    sent = 0
    for batch in chunks(ids):
        try:
            dispatch.apply_async((batch,))
        except Exception as error:  # broker errors vary by transport; all mean "later"
            log_event(
                log,
                "dispatch.enqueue_failed",
                logging.WARNING,
                notification_ids=batch,
                error=str(error),
            )
            break
        sent += 1
    return sent


@shared_task(bind=True, name=TaskName.OUTBOX_RELAY, ignore_result=True)
def relay(self: Task) -> dict[str, int]:
    """Relay committed outbox events into notifications, batch by batch, then re-queue any
    notification whose dispatch task or worker was lost. Beat runs it every few seconds and
    every transaction that writes events asks for it after commit."""
    settings = DeliverySettings.of(current_app)
    events = dispatched = 0
    for _ in range(RELAY_BATCHES_PER_TASK):
        batch = relay_outbox(
            db.session(), now=utcnow(), requeue_after=settings.requeue_after, batch_size=RELAY_BATCH
        )
        db.session.commit()
        if not batch.event_ids:
            break
        events += len(batch.event_ids)
        dispatched += len(batch.dispatch_ids)
        log_event(
            log,
            "outbox.relayed",
            event_ids=[batch.event_ids[0], batch.event_ids[-1]],
            events=len(batch.event_ids),
            notifications=len(batch.dispatch_ids),
        )
        enqueue_dispatch(batch.dispatch_ids)
    else:
        relay.apply_async()  # more waiting: hand over rather than hold the worker
    lost = sweep_lost(db.session(), now=utcnow(), requeue_after=settings.requeue_after)
    db.session.commit()
    if lost:
        log_event(log, "notifications.requeued", notification_ids=lost[:100], count=len(lost))
        enqueue_dispatch(lost)
    return {"events": events, "notifications": dispatched, "requeued": len(lost)}


@shared_task(bind=True, name=TaskName.NOTIFICATIONS_DISPATCH, max_retries=8, ignore_result=True)
def dispatch(self: Task, ids: list[int]) -> dict[str, Any]:
    """Deliver the notifications `ids` (email, webhook), each exactly once. Failures retry with
    exponential backoff and jitter, bounded; rows held by a worker that may have died are
    retried when its lease ends."""
    settings = DeliverySettings.of(current_app)
    countdown = retry_countdown(self.request.retries)
    outcome = deliver(
        db.session(),
        ids,
        settings=settings,
        held_until=utcnow() + timedelta(seconds=countdown) + settings.requeue_after,
    )
    if outcome.retry and self.request.retries < (self.max_retries or 0):
        if outcome.retry_not_before is not None:
            wait = (outcome.retry_not_before - utcnow()).total_seconds() + 0.5
            countdown = min(max(countdown, wait), MAX_RETRY_COUNTDOWN)
        raise self.retry(args=(outcome.retry,), countdown=countdown)
    return {"sent": len(outcome.sent), "retry": len(outcome.retry), "failed": len(outcome.failed)}


@shared_task(name=TaskName.NOTIFICATIONS_SWEEP, ignore_result=True)
def sweep() -> int:
    """Re-queue notifications whose holder is gone (the relay does this too)."""
    settings = DeliverySettings.of(current_app)
    lost = sweep_lost(db.session(), now=utcnow(), requeue_after=settings.requeue_after)
    db.session.commit()
    enqueue_dispatch(lost)
    return len(lost)


@shared_task(name=TaskName.NOTIFICATIONS_DIGEST, ignore_result=True)
def digest() -> int:
    """The daily digest: one send task per batch of recipients with held email."""
    user_ids = digest_recipients(db.session(), now=utcnow())
    db.session.commit()
    for batch in chunks(user_ids, DIGEST_BATCH):
        send_digests.apply_async((batch,))
    log_event(log, "digest.queued", users=len(user_ids))
    return len(user_ids)


@shared_task(name=TaskName.NOTIFICATIONS_SEND_DIGESTS, ignore_result=True)
def send_digests(user_ids: list[int]) -> int:
    settings = DeliverySettings.of(current_app)
    return len(deliver_digests(db.session(), user_ids, settings=settings))
