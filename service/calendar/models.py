"""A person's private calendar feed token: stored as a SHA-256 hash, like API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, UTCDateTime, utcnow
from service.org.models import User


class CalendarFeed(Base):
    """One feed URL of a person. Renewing revokes the one in force and makes another; a
    revoked feed answers 404, like one that never existed."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown on the settings page: "cal_ab12…"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (
        # At most one feed in force per person: a double click on "renew" cannot leave two.
        Index(
            "uq_calendar_feed_user_active",
            "user_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )
