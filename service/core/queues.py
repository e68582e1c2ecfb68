"""How Celery is run: queues, routes and the settings that make a lost worker or broker cost
a retry, never a lost or doubled side effect.

The database is the source of truth for every piece of work (outbox events, notification rows,
reminder rules, rollup inputs); a Celery message only says "look now". So a message lost with a
restarted Redis, or a worker killed with `kill -9`, delays work until the next beat tick or
sweep, and the database's unique keys and leases keep anything from happening twice.
"""

from __future__ import annotations

import random
from typing import Any, Final

from kombu import Exchange, Queue

#: The queues; `celery worker` without -Q consumes them all, -Q picks some (rollups apart).
QUEUES: Final = ("notifications", "deadlines", "rollups", "celery")

#: Task name patterns to queues; the producer (the web app) routes, so this lives in service.
TASK_ROUTES: Final = {
    "tidtam.outbox.*": {"queue": "notifications"},
    "tidtam.notifications.*": {"queue": "notifications"},
    "tidtam.auth.*": {"queue": "notifications"},  # mails too
    "tidtam.deadlines.*": {"queue": "deadlines"},
    "tidtam.rollups.*": {"queue": "rollups"},
}

#: Redis re-delivers a message that is not acknowledged within this many seconds. With
#: acks_late a task is acknowledged when it ends, so every time limit stays well below it,
#: and no task is sent with a countdown near it (deadlines come from the database).
VISIBILITY_TIMEOUT: Final = 3600
TASK_TIME_LIMIT: Final = 1800
TASK_SOFT_TIME_LIMIT: Final = 1500
#: The longest countdown any retry uses.
MAX_RETRY_COUNTDOWN: Final = 300


def reliability_settings(celery: dict[str, Any]) -> dict[str, Any]:
    """Celery settings to merge into `celery` (the app's CELERY config), keeping its transport
    options (a key prefix) and adding the visibility timeout and connect timeout."""
    transport: dict[str, Any] = {}
    if str(celery.get("broker_url", "")).startswith("redis"):
        # kombu's SQLAlchemy transport hands its options to create_engine: Redis only.
        transport["visibility_timeout"] = VISIBILITY_TIMEOUT
        # A request that kicks the relay must not hang on an unreachable Redis.
        transport["socket_connect_timeout"] = 3
    transport.update(celery.get("broker_transport_options", {}))
    return {
        # Each queue its own exchange and routing key: with the defaults every queue would be
        # bound to exchange "celery" with key "celery" and a message would reach them all.
        "task_queues": [Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        "task_default_queue": "celery",
        "task_routes": dict(TASK_ROUTES),
        # Acknowledge when the task ends, and give the message back when the pool process
        # running it dies, so a `kill -9` mid-task means the task runs again.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # How long the pool waits for word from a process that died before it gives the
        # message back (default 10 s). Our tasks are safe to run again, so 3 s will do.
        "worker_lost_wait": 3.0,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        # When the broker connection drops, unacknowledged messages will be re-delivered: stop
        # the tasks running them rather than finish work that is about to be repeated.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": transport,
        "task_publish_retry_policy": {
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        "result_expires": 24 * 3600,
    }


def retry_countdown(
    retries: int, *, factor: float = 2.0, cap: float = MAX_RETRY_COUNTDOWN
) -> float:
    """Seconds before retry number `retries` (0-based): exponential, bounded by `cap`, with
    "equal jitter" (half fixed, half random) so a burst of failures does not retry in step."""
    base = min(cap, factor * (2 ** max(retries, 0)))
    return base / 2 + random.uniform(0, base / 2)
