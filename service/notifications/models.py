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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, UTCDateTime, enum_column, utcnow
from service.org.models import User


class Channel(enum.StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for a dispatch task (which owns it until lease_until)
    SENDING = "sending"  # a worker is delivering it (and owns it until lease_until)
    SENT = "sent"
    FAILED = "failed"
    DIGEST = "digest"  # held for the daily digest


class Notification(Base):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # e.g. "event:42:user:7:email" or "deadline:step:9:due-3:2566-12-01:user:7:in_app"
    delivery_key: Mapped[str] = mapped_column(String(255), unique=True)
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

    recipient: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_notification_recipient_unread", "recipient_id", "read_at"),
        Index("ix_notification_state", "state", "channel"),
        Index("ix_notification_state_lease", "state", "lease_until"),
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
    """A unit's webhook: events for the unit's people are POSTed as JSON, signed with HMAC."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every kind
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
