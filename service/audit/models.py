"""The audit log (append-only) and the transactional outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, UTCDateTime, utcnow
from service.org.models import User


class AuditEntry(Base):
    """Who did what to which object, from which state to which, and why. Rows are never
    updated or deleted (on PostgreSQL a trigger refuses it)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The hash chain (service.audit.chain): the entry's place in the stream, the hash of the
    # entry before it and its own. Set once, just before its transaction commits.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    acting_for: Mapped[User | None] = relationship(foreign_keys=[acting_for_id])

    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id", "occurred_at"),
        Index("ix_audit_entry_actor", "actor_id", "occurred_at"),
        # One entry per place in the chain: a second writer that slipped past the lock fails.
        Index("uq_audit_entry_chain_seq", "chain_seq", unique=True),
        # The entries still to be chained (only the committing transaction's own).
        Index(
            "ix_audit_entry_unchained",
            "id",
            postgresql_where=text("chain_seq IS NULL"),
            sqlite_where=text("chain_seq IS NULL"),
        ),
    )


class AuditChainHead(Base):
    """The last link of an audit stream. Its row is locked (SELECT … FOR UPDATE) by the
    transaction that appends to the stream, so appends are serialised per stream; a row lock
    works through PgBouncer in transaction mode, where session advisory locks do not."""

    __tablename__ = "audit_chain_head"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class OutboxEvent(Base):
    """An event written in the same transaction as the change it reports; a relay hands it to
    Celery after commit and stamps `relayed_at`."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_event_pending", "relayed_at", "id"),)
