"""The budget's sweep: beat runs it hourly (service.budget.operations.tell_undecidable)."""

from __future__ import annotations

import logging

from celery import shared_task

from service.budget.operations import tell_undecidable
from service.core.db import db
from service.core.logs import log_event
from service.core.tasks import TaskName

log = logging.getLogger("tidtam.workers")


@shared_task(name=TaskName.BUDGET_UNDECIDABLE, ignore_result=True)
def undecidable() -> int:
    """Tell the preparers of waiting items nobody may approve as they stand, once each; the
    outbox relay delivers what is told. A later run tells nobody again: the item's history
    says it was told."""
    told = tell_undecidable(db.session())
    db.session.commit()
    log_event(log, "budget.undecidable", told=told)
    return told
