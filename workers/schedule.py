"""The beat schedule: one dict, every periodic task by its explicit name."""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "health-every-5-minutes": {"task": "tidtam.health", "schedule": 300.0},
}
