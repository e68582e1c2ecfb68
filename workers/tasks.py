"""Tasks. Each has an explicit name and takes ids, never objects.

Autodiscovery imports this module; the task modules it imports register theirs:
workers.notifications (outbox relay, dispatch, sweep, digest), workers.deadlines (the
deadline engine), workers.rollups (quarterly rollups), workers.budget (items nobody may
approve as they stand).
"""

from __future__ import annotations

import socket
from typing import Any

from celery import shared_task
from sqlalchemy import text

from service.core.db import db, utcnow
from service.core.tasks import TaskName
from service.ops.models import WorkerHeartbeat
from workers import auth, budget, deadlines, notifications, rollups

__all__ = ["auth", "budget", "deadlines", "health", "notifications", "rollups"]


@shared_task(name=TaskName.HEALTH, ignore_result=False)
def health() -> dict[str, Any]:
    """Prove the worker runs inside the app: it reaches the database, says where it is, and
    leaves its heartbeat for the health view (beat sends this every minute)."""
    database_ok = db.session.execute(text("SELECT 1")).scalar() == 1
    db.session.merge(WorkerHeartbeat(worker=socket.gethostname(), seen_at=utcnow()))
    db.session.commit()
    return {
        "worker": socket.gethostname(),
        "database": database_ok,
        "dialect": db.engine.dialect.name,
        "at": utcnow().isoformat(),
    }
