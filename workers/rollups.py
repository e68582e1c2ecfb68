"""Quarterly rollup tasks: at each quarter's end (beat), nightly for the current quarter, and on
demand. The long one reports progress in its task state for the UI to poll."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Task, shared_task
from flask import current_app

from service.core.db import db, utcnow
from service.core.fiscal import FiscalQuarter, local_today
from service.core.logs import log_event
from service.core.tasks import TaskName
from service.projects.figures import figures_today, repair_figures
from service.rollups.compute import RollupError, quarter_just_ended, run_rollup

log = logging.getLogger("tidtam.workers")


@shared_task(bind=True, name=TaskName.ROLLUPS_COMPUTE, ignore_result=True)
def compute(self: Task, be_year: int, quarter: int) -> dict[str, Any]:
    """Compute every rollup of `quarter` of fiscal year `be_year` (Buddhist Era). While it runs,
    its state is PROGRESS with meta {"done", "total", "phase"}; at the end SUCCESS with the
    totals. The task stores these states itself, so senders never ask for a result (see
    service.core.tasks.send_task)."""

    def progress(done: int, total: int, phase: str) -> None:
        if self.request.id:
            self.update_state(state="PROGRESS", meta={"done": done, "total": total, "phase": phase})
        log_event(
            log,
            "rollup.progress",
            fiscal_year=be_year,
            quarter=quarter,
            done=done,
            total=total,
            phase=phase,
        )

    progress(0, 0, "starting")
    try:
        plan = run_rollup(db.session(), be_year, quarter, now=utcnow(), progress=progress)
    except RollupError as error:
        db.session.rollback()
        log_event(log, "rollup.skipped", logging.WARNING, error=str(error))
        return {"fiscal_year": be_year, "quarter": quarter, "error": str(error)}
    summary = {
        "fiscal_year": be_year,
        "quarter": quarter,
        "done": plan.steps,
        "total": plan.steps,
        "project_ranges": len(plan.id_ranges),
    }
    if self.request.id:
        self.update_state(state="SUCCESS", meta=summary)
    return summary


@shared_task(name=TaskName.ROLLUPS_QUARTER_END, ignore_result=True)
def quarter_end(now: str | None = None) -> dict[str, int]:
    """The quarter that has just ended (in Bangkok): beat runs this at 00:30 on its next day."""
    instant = datetime.fromisoformat(now) if now else utcnow()
    ended = quarter_just_ended(instant, current_app.config["TIMEZONE"])
    compute.apply_async((ended.year, ended.quarter))
    return {"fiscal_year": ended.year, "quarter": ended.quarter}


@shared_task(name=TaskName.ROLLUPS_CURRENT, ignore_result=True)
def current() -> dict[str, int]:
    """Refresh the current quarter's figures (nightly), so dashboards are never a day behind."""
    today = FiscalQuarter.of(local_today(current_app.config["TIMEZONE"]))
    compute.apply_async((today.year, today.quarter))
    return {"fiscal_year": today.year, "quarter": today.quarter}


@shared_task(name=TaskName.ROLLUPS_FIGURES, ignore_result=True)
def figures() -> dict[str, int]:
    """Recompute every project's figures from its source rows for today (Bangkok): planned
    progress and overdue steps move with the day. Rows missing or drifted from their source
    rows (a write round the operations) are counted, logged and repaired."""
    session = db.session()
    found = repair_figures(session.connection(), figures_today(), commit=session.commit)
    session.commit()
    summary = {
        "checked": found.checked,
        "missing": found.missing,
        "drifted": found.drifted,
        "written": found.written,
    }
    level = logging.WARNING if found.missing or found.drifted else logging.INFO
    log_event(log, "figures.repaired", level, **summary)
    return summary
