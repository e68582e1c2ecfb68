"""Celery, as the service sees it: bound to the app, and tasks known only by name.

Views and operations never import `workers`; they ask for a task by name with
`enqueue_after_commit`, which sends it only once the current transaction has committed,
so a worker never reads a row that is not there yet.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

_PENDING = "tidtam.pending_tasks"
log = logging.getLogger("tidtam.tasks")


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app whose tasks run inside a Flask app context (Flask's pattern)."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app: Celery = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def send_task(name: str, *args: Any, **options: Any) -> None:
    """Send a task by name now (outside any transaction).

    Without a result by default: the web never waits for one, and asking for one makes
    Celery subscribe to the Redis result channel, a subscription that does not survive a
    Redis restart (every later send would fail until the process restarts). A task whose
    progress is polled stores its state itself."""
    options.setdefault("ignore_result", True)
    current_app.extensions["celery"].send_task(name, args=args, **options)


def enqueue_after_commit(session: Session, name: str, *args: Any, **options: Any) -> None:
    """Send task `name` once `session` commits; forget it if the session rolls back.

    Asking twice for the same task with the same arguments in one transaction sends it once.
    """
    pending = session.info.setdefault(_PENDING, [])
    if (name, args, options) not in pending:
        pending.append((name, args, options))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for name, args, options in pending:
        try:
            send_task(name, *args, **options)
        except Exception:
            # The transaction has committed: a broker that is down must not turn it into an
            # error page. Work that must not be lost is in the database (the outbox, pending
            # notifications), where beat and the sweeps find it when the broker is back.
            log.warning("could not send %s after commit; beat will catch up", name, exc_info=True)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
