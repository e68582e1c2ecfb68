"""The beat schedule: one dict, every periodic task by its explicit name."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from service.core.tasks import TaskName

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # The workers' heartbeat for /healthz/workers (a worker unseen for 3 minutes is gone).
    "health-every-minute": {"task": TaskName.HEALTH, "schedule": 60.0, "options": {"expires": 50}},
    # Crontab times are Bangkok time (Celery's `timezone`). Short `expires`: a tick that
    # waited out a broker outage is dropped, the next one does the same work.
    "outbox-relay-every-5-seconds": {
        "task": TaskName.OUTBOX_RELAY,
        "schedule": 5.0,
        "options": {"expires": 30},
    },
    "notifications-sweep-every-minute": {
        "task": TaskName.NOTIFICATIONS_SWEEP,
        "schedule": 60.0,
        "options": {"expires": 120},
    },
    "notifications-digest-daily-0700": {
        "task": TaskName.NOTIFICATIONS_DIGEST,
        "schedule": crontab(hour=7, minute=0),
    },
    "deadlines-hourly": {
        "task": TaskName.DEADLINES_RUN,
        "schedule": crontab(minute=5),
        "options": {"expires": 3000},
    },
    # Waiting allocations and installments nobody may approve as they stand (asked for
    # before such requests were refused): their preparers are told once.
    "budget-undecidable-hourly": {
        "task": TaskName.BUDGET_UNDECIDABLE,
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
    "rollups-quarter-end": {
        "task": TaskName.ROLLUPS_QUARTER_END,
        "schedule": crontab(minute=30, hour=0, day_of_month=1, month_of_year="1,4,7,10"),
    },
    # Planned progress and overdue steps move with the day: each project's figures are
    # recomputed for the new Bangkok day just after midnight, drift counted and repaired.
    "rollups-figures-nightly": {
        "task": TaskName.ROLLUPS_FIGURES,
        "schedule": crontab(minute=1, hour=0),
        "options": {"expires": 3000},
    },
    "rollups-current-quarter-nightly": {
        "task": TaskName.ROLLUPS_CURRENT,
        "schedule": crontab(minute=15, hour=1),
    },
}
