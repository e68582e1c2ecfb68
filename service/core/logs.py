"""Structured log lines: one JSON object per event, carrying the Celery task id when logged
from a task, so `grep '"task_id": "…"'` follows one task and `grep '"notification_id": 42'`
one object through relay, dispatch and retries."""

from __future__ import annotations

import json
import logging
from typing import Any


def _task_id() -> str | None:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover
        return None
    request = getattr(current_task, "request", None)
    return getattr(request, "id", None) if current_task else None


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` with `fields` (ids, counts, errors) as one JSON line."""
    if not logger.isEnabledFor(level):
        return
    record: dict[str, Any] = {"event": event}
    task_id = _task_id()
    if task_id:
        record["task_id"] = task_id
    record.update(fields)
    logger.log(level, json.dumps(record, ensure_ascii=False, default=str, sort_keys=False))
