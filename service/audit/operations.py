"""Writing the audit trail and outbox events. Both join the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.audit.models import AuditEntry, OutboxEvent
from service.org.models import User


def record(
    session: Session,
    *,
    action: str,
    object_type: str,
    object_id: int,
    actor: User | None = None,
    acting_for: User | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    changes: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Append one audit row (never updated afterwards)."""
    entry = AuditEntry(
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor.id if actor else None,
        acting_for_id=acting_for.id if acting_for else None,
        from_state=from_state,
        to_state=to_state,
        changes=changes or {},
        reason=reason,
    )
    session.add(entry)
    return entry


def emit(
    session: Session,
    *,
    kind: str,
    object_type: str,
    object_id: int,
    actor: User | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Write an outbox event in the current transaction; the relay sends it after commit."""
    event = OutboxEvent(
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor.id if actor else None,
        payload=payload or {},
    )
    session.add(event)
    return event
