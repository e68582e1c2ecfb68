"""Notifications: one row per (event, recipient, channel), delivered exactly once."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from service.core.db import Base, UTCDateTime, enum_column, utcnow
from service.org.models import User


class Channel(enum.StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"
    LINE = "line"  # a person's LINE account, or a unit's LINE group


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for a dispatch task (which owns it until lease_until)
    SENDING = "sending"  # a worker is delivering it (and owns it until lease_until)
    SENT = "sent"
    FAILED = "failed"
    DIGEST = "digest"  # held for the daily digest


class Notification(Base):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys on this table (recipient, endpoint, LINE group): PostgreSQL checks one
    # per inserted row, and a deadline run's first pass inserts a quarter of a million rows,
    # every one from joins with the tables referred to, whose rows are never deleted (people
    # are deactivated, endpoints withdrawn, groups left). Migration c8e2a4f6b0d1.
    recipient_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # e.g. "event:42:user:7:email" or "deadline:step:9:due-3:2566-12-01:user:7:in_app"
    # Compared bytewise on PostgreSQL: the key is a machine word, and the unique index, the
    # deadline engine's sort and its anti-join compare a quarter of a million of them in a
    # first run, several times slower under a language's collation.
    delivery_key: Mapped[str] = mapped_column(
        String(255).with_variant(String(255, collation="C"), "postgresql"), unique=True
    )
    state: Mapped[DeliveryState] = mapped_column(
        enum_column(DeliveryState, "delivery_state"), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who holds a pending or sending row holds it until then; after it a sweep may hand the
    # row to another task (a dispatch task lost with the broker, a worker killed mid-send).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A unit's delivery (one per event and endpoint, or event and LINE group, however many of
    # the unit's people are told): where it goes. The recipient is then the first of them
    # (lowest id), so that every row keeps an owner and a language.
    endpoint_id: Mapped[int | None] = mapped_column(Integer)
    line_group_id: Mapped[int | None] = mapped_column(Integer)

    recipient: Mapped[User] = relationship(
        primaryjoin=lambda: User.id == foreign(Notification.recipient_id), viewonly=True
    )

    # Partial indexes, each holding only the rows its readers look for: a deadline run
    # inserts a quarter of a million rows, in-app rows (already sent) and mail held for the
    # digest, and each row now goes into three indexes rather than six.
    __table_args__ = (
        # The notification centre: a person's in-app rows.
        Index(
            "ix_notification_recipient_unread",
            "recipient_id",
            "read_at",
            postgresql_where=text("channel = 'in_app'"),
            sqlite_where=text("channel = 'in_app'"),
        ),
        # Rows still to deliver, held for the digest (per person) or failed; sent rows, the
        # bulk of the table, are looked up by nobody by their state.
        Index(
            "ix_notification_state",
            "state",
            "channel",
            "recipient_id",
            postgresql_where=text("state <> 'sent'"),
            sqlite_where=text("state <> 'sent'"),
        ),
        # The sweep of rows whose holder is gone: only leased rows have a lease.
        Index(
            "ix_notification_state_lease",
            "state",
            "lease_until",
            postgresql_where=text("lease_until IS NOT NULL"),
            sqlite_where=text("lease_until IS NOT NULL"),
        ),
        Index(
            "ix_notification_endpoint",
            "endpoint_id",
            postgresql_where=text("endpoint_id IS NOT NULL"),
            sqlite_where=text("endpoint_id IS NOT NULL"),
        ),
    )


class DeliveryMode(enum.StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"
    OFF = "off"


class NotificationPreference(Base):
    """Per user and per kind of notification: immediately, in the daily digest, or off.
    No row means immediately."""

    __tablename__ = "notification_preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    mode: Mapped[DeliveryMode] = mapped_column(enum_column(DeliveryMode, "delivery_mode"))

    __table_args__ = (UniqueConstraint("user_id", "kind", "channel"),)


class WebhookEndpoint(Base):
    """A unit's webhook: each event told to the unit's people is POSTed once as JSON, signed
    with HMAC under the endpoint's secret (kept to sign with; shown to an admin only when it
    is made or rotated)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    name: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every kind
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LineAccount(Base):
    """A person's LINE account, linked when they sent their one-time code to the Official
    Account. Unlinking clears `line_user_id` (the audit trail keeps who it was)."""

    __tablename__ = "line_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), unique=True)
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LineGroup(Base):
    """A LINE group the bot was invited to (its join event names it), linked to a unit when
    an officer or admin of the unit typed the unit's one-time code in it. A linked group gets
    one message per event told to the unit's people."""

    __tablename__ = "line_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class LineLinkCode(Base):
    """A one-time code: sent to the Official Account it links `user_id`'s LINE account; typed
    in a group (with `unit_id`) it links that group to the unit. Used once, until it expires."""

    __tablename__ = "line_link_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReminderKind(enum.StrEnum):
    STEP_DUE = "step_due"  # a step's planned end is near
    STEP_OVERDUE = "step_overdue"  # past its planned end, no accepted result
    REVIEW_WAITING = "review_waiting"  # a submitted result waits for review
    INSTALLMENT_WAITING = "installment_waiting"  # an installment waits for approval
    REPORT_MISSING = "report_missing"  # no progress report this month
    EVALUATION_SELF = "evaluation_self"  # quarter not self-assessed by its deadline
    EVALUATION_SCORE = "evaluation_score"  # quarter not scored by its deadline


class ReminderRule(Base):
    """A reminder as data: fire `offset_days` before (negative) or after (positive) the
    anchor day, then every `repeat_days` until done; after `escalate_after_days` past the
    anchor, the head of the unit is told too. Days are counted in Asia/Bangkok."""

    __tablename__ = "reminder_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReminderKind] = mapped_column(enum_column(ReminderKind, "reminder_kind"))
    name: Mapped[str] = mapped_column(String(255))
    offset_days: Mapped[int] = mapped_column(Integer, default=0)
    repeat_days: Mapped[int | None] = mapped_column(Integer)
    escalate_after_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Two active rules of one kind firing on the same day after the anchor would send
        # every alert twice: refused, here and with a message in the admin operations.
        Index(
            "uq_reminder_rule_active_kind_offset",
            "kind",
            "offset_days",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        CheckConstraint("repeat_days IS NULL OR repeat_days >= 1", name="repeat_positive"),
        CheckConstraint(
            "escalate_after_days IS NULL OR escalate_after_days >= 0", name="escalate_not_negative"
        ),
    )
