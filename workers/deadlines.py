"""The deadline engine's task: beat runs it hourly; each run is one statement per rule."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from service.core.db import db, utcnow
from service.core.fiscal import local_today
from service.core.logs import log_event
from service.core.tasks import TaskName
from service.deadlines.engine import active_rules, run_rule
from service.deadlines.rules import ensure_default_rules
from service.fiscal.models import FiscalYear
from service.notifications.operations import DeliverySettings
from workers.notifications import enqueue_dispatch

log = logging.getLogger("tidtam.workers")


@shared_task(name=TaskName.DEADLINES_RUN, ignore_result=True)
def run(on: str | None = None) -> dict[str, int]:
    """Fire every active reminder rule for the Bangkok day `on` (ISO; default today) and
    dispatch what is new. Safe to run twice at once or again: keys are unique."""
    today = date.fromisoformat(on) if on else local_today(current_app.config["TIMEZONE"])
    settings = DeliverySettings.of(current_app)
    years = dict(db.session.execute(select(FiscalYear.id, FiscalYear.be_year)).all())
    if ensure_default_rules(db.session(), only_when_empty=True):
        log_event(log, "deadlines.default_rules_added")
    rules = active_rules(db.session())
    db.session.commit()
    fired: dict[str, int] = {}
    for rule in rules:
        ids = run_rule(
            db.session(),
            rule,
            today=today,
            now=utcnow(),
            requeue_after=settings.requeue_after,
            years=years,
        )
        db.session.commit()
        fired[f"{rule.id}:{rule.kind.value}"] = len(ids)
        log_event(
            log,
            "deadlines.rule",
            rule_id=rule.id,
            kind=rule.kind.value,
            day=today.isoformat(),
            notifications=len(ids),
        )
        enqueue_dispatch(ids)
    return fired
