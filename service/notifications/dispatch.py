"""Delivering claimed notifications: each one is claimed, sent and recorded in transactions
of its own, because a claim must be committed before the mail leaves and the outcome must be
committed before the next one is claimed. This is the one place in the service that commits
several times; the dispatch task calls it and nothing else does."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.db import utcnow
from service.core.fiscal import local_today
from service.core.logs import log_event
from service.notifications.line import LineSettings, push_text
from service.notifications.mail import DeliveryError, Mailer, digest_mail, notification_mail
from service.notifications.messages import describe, summary
from service.notifications.models import Channel, DeliveryState, Notification
from service.notifications.operations import (
    DIGEST_KIND,
    Delivery,
    DeliverySettings,
    claim_delivery,
    digest_items,
    open_digests,
    record_failure,
    record_sent,
)
from service.notifications.webhook import AddressRefused, post

log = logging.getLogger("tidtam.notifications")

WEBHOOK_TIMEOUT = 10.0


@dataclass
class DispatchOutcome:
    """What became of a batch: sent, to retry (failed for now, or held by another worker until
    `retry_not_before`), and failed for good (shown to admins)."""

    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    retry_not_before: datetime | None = None


Items = list[tuple[Delivery, dict[str, str]]]


def line_text(delivery: Delivery, words: dict[str, str], items: Items) -> str:
    """What a LINE message says: the summary in the reader's language and the link to where
    it is acted on; a digest lists its items, each with its link."""
    lang = "en" if delivery.language == "en" else "th"
    if delivery.kind == DIGEST_KIND:
        title = summary(DIGEST_KIND, delivery.payload, words, lang)
        lines = [f"{title} ({len(items)})"]
        for item, item_words in items:
            lines.append("• " + summary(item.kind, item.payload, item_words, lang))
            if item_words.get("link"):
                lines.append("  " + item_words["link"])
        return "\n".join(lines)
    text = "ติดตาม: " if lang == "th" else "Tidtam: "
    text += summary(delivery.kind, delivery.payload, words, lang)
    if words.get("link"):
        text += "\n" + words["link"]
    return text


def webhook_document(
    delivery: Delivery, words: dict[str, str], english: dict[str, str]
) -> dict[str, Any]:
    """The JSON a webhook endpoint receives: one per event and endpoint. `delivery` is the
    stable id of this delivery (the `X-Tidtam-Delivery` header says it too): a receiver that
    sees it twice drops the second."""
    return {
        "delivery": delivery.delivery_key,
        "kind": delivery.kind,
        "object_type": delivery.object_type,
        "object_id": delivery.object_id,
        "unit_id": delivery.unit_id,
        # Kept for receivers written before deliveries were per endpoint: the first person
        # of the unit the event told.
        "recipient": {"id": delivery.recipient_id, "name": delivery.recipient_name},
        "text": summary(delivery.kind, delivery.payload, words, "th"),
        "text_en": summary(delivery.kind, delivery.payload, english, "en"),
        "link": words.get("link", ""),
        "payload": delivery.payload,
        "created_at": delivery.created_at.isoformat(),
    }


def _send(
    delivery: Delivery,
    words: dict[str, str],
    items: Items,
    mailer: Mailer,
    english: dict[str, str],
) -> None:
    if delivery.channel is Channel.EMAIL and delivery.kind == DIGEST_KIND:
        if items:
            mailer.send(digest_mail(delivery, items))
        return
    if delivery.channel is Channel.EMAIL:
        mailer.send(notification_mail(delivery, words))
        return
    if delivery.channel is Channel.WEBHOOK:
        if not delivery.endpoint_url:
            raise DeliveryError("the webhook endpoint is withdrawn")
        post(
            delivery.endpoint_url,
            delivery.endpoint_secret,
            webhook_document(delivery, words, english),
            delivery.delivery_key,
            WEBHOOK_TIMEOUT,
            allow_private=bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES")),
        )
        return
    if delivery.channel is Channel.LINE:
        if delivery.kind == DIGEST_KIND and not items:
            return
        if not delivery.line_to:
            raise DeliveryError("no LINE account or group is linked any more")
        push_text(
            LineSettings.of(current_app.config),
            delivery.line_to,
            line_text(delivery, words, items),
            delivery.delivery_key,
        )
        return
    raise DeliveryError(f"channel {delivery.channel} is not sent by workers")


def deliver(
    session: Session,
    ids: Sequence[int],
    *,
    settings: DeliverySettings,
    held_until: datetime,
) -> DispatchOutcome:
    """Deliver the notifications `ids`, each exactly once (see operations' docstring).

    A row another worker holds is left alone and reported for a retry after its lease; a
    failure sets the row back to pending, held until `held_until` for the retry the caller
    schedules (after it, the sweep may re-queue it), or at the last attempt to failed.
    Commits after each claim and each outcome.
    """
    outcome = DispatchOutcome()
    with Mailer() as mailer:
        for notification_id in ids:
            claim = claim_delivery(
                session, notification_id, now=utcnow(), lease=settings.send_lease
            )
            delivery = claim.delivery
            if delivery is None:
                session.commit()
                if claim.busy_until is not None:
                    outcome.retry.append(notification_id)
                    if (
                        outcome.retry_not_before is None
                        or claim.busy_until > outcome.retry_not_before
                    ):
                        outcome.retry_not_before = claim.busy_until
                else:
                    outcome.skipped.append(notification_id)
                continue
            words = describe(
                session,
                delivery.object_type,
                delivery.object_id,
                delivery.payload,
                delivery.language,
                delivery.kind,
            )
            items: Items = []
            if delivery.kind == DIGEST_KIND:
                for item in digest_items(session, delivery):
                    item_words = describe(
                        session,
                        item.object_type,
                        item.object_id,
                        item.payload,
                        item.language,
                        item.kind,
                    )
                    items.append((item, item_words))
            english = words
            if delivery.channel is Channel.WEBHOOK:
                english = describe(
                    session,
                    delivery.object_type,
                    delivery.object_id,
                    delivery.payload,
                    "en",
                    delivery.kind,
                )
            session.commit()  # the claim is durable before anything leaves
            try:
                _send(delivery, words, items, mailer, english)
            except DeliveryError as error:
                state = record_failure(
                    session,
                    notification_id,
                    str(error),
                    held_until=held_until,
                    # A refused address is not tried again by itself: an admin changes the
                    # endpoint and retries it from the failed list.
                    max_attempts=0 if isinstance(error, AddressRefused) else settings.max_attempts,
                )
                session.commit()
                failed_for_good = state is DeliveryState.FAILED
                (outcome.failed if failed_for_good else outcome.retry).append(notification_id)
                log_event(
                    log,
                    "notification.failed" if failed_for_good else "notification.retry",
                    logging.WARNING,
                    notification_id=notification_id,
                    channel=delivery.channel.value,
                    attempt=delivery.attempts,
                    error=str(error),
                )
                continue
            record_sent(session, notification_id, now=utcnow())
            session.commit()
            outcome.sent.append(notification_id)
            log_event(
                log,
                "notification.sent",
                notification_id=notification_id,
                channel=delivery.channel.value,
                kind=delivery.kind,
                object_type=delivery.object_type,
                object_id=delivery.object_id,
                recipient_id=delivery.recipient_id,
                attempt=delivery.attempts,
            )
    return outcome


def deliver_digests(
    session: Session,
    user_ids: Sequence[int],
    *,
    settings: DeliverySettings,
    day: date | None = None,
) -> list[int]:
    """Make each user's digest for the Bangkok `day` (default today) and deliver it now, in
    this process (see `open_digests`). Returns the ids of the notifications the digests
    carried that were sent; a failed digest is retried like any mail."""
    digest_ids = open_digests(
        session,
        user_ids,
        day=day or local_today(),
        now=utcnow(),
        requeue_after=settings.requeue_after,
    )
    session.commit()
    outcome = deliver(
        session, digest_ids, settings=settings, held_until=utcnow() + settings.requeue_after
    )
    carried = session.scalars(
        select(Notification.payload).where(Notification.id.in_(outcome.sent))
    ).all()
    session.rollback()
    return sorted(int(i) for payload in carried for i in payload.get("items", []))
