"""Writing the audit trail and outbox events. Both join the caller's transaction."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from service.audit.models import AuditEntry, OutboxEvent
from service.org.models import User

#: session.info key, set while a browser request acts for someone (service.org.acting):
#: (the signed-in user's id, the principal's id).
ACTING_KEY = "tidtam.acting"


def jsonable(value: Any) -> Any:
    """`value` with Decimals as exact strings, dates as ISO and enums as their values, so
    money never passes through a float on its way into a JSON column."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


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
    """Append one audit row (never updated afterwards).

    In a request that acts for someone, a change made with the principal's authority
    (`actor` is the principal) is recorded as the signed-in deputy's, acting for them."""
    actor_id = actor.id if actor else None
    acting_for_id = acting_for.id if acting_for else None
    acting = session.info.get(ACTING_KEY)
    if acting is not None and acting_for_id is None and actor_id == acting[1]:
        actor_id, acting_for_id = acting
    entry = AuditEntry(
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor_id,
        acting_for_id=acting_for_id,
        from_state=jsonable(from_state),
        to_state=jsonable(to_state),
        changes=jsonable(changes or {}),
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
    """Write an outbox event in the current transaction; the relay sends it after commit.
    While a request acts for someone, the actor is the signed-in deputy (as in `record`)."""
    actor_id = actor.id if actor else None
    payload = dict(payload or {})
    acting = session.info.get(ACTING_KEY)
    if acting is not None and actor_id == acting[1]:
        actor_id = acting[0]
        payload.setdefault("acting_for_id", acting[1])
        if payload.get("actor_id") == acting[1]:
            payload["actor_id"] = acting[0]
    event = OutboxEvent(
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor_id,
        payload=jsonable(payload),
    )
    session.add(event)
    return event
