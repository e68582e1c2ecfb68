"""Being told without being flooded: every event of every workflow table tells someone or is
silent for a written reason, overdue alerts name the unit and come once a day in one digest,
links lead to the thing to act on, and the bell shows the unread count on every page."""

from __future__ import annotations

import pytest

from service.notifications.recipients import NOTIFIED_KINDS, SILENT
from service.workflow.engine import load_workflows

#: Events emitted by operations outside the workflow tables.
OTHER_EVENTS = {
    "allocation.create",
    "installment.request",
    "delegation.create",
    "delegation.withdraw",
}

TRANSITIONS = sorted(
    f"{workflow.name}.{transition.name}"
    for workflow in load_workflows().values()
    for transition in workflow.transitions
)


@pytest.mark.parametrize("kind", TRANSITIONS)
def test_every_transition_tells_someone_or_says_why_not(kind: str) -> None:
    told = kind in NOTIFIED_KINDS
    silent = SILENT.get(kind, "").strip()
    assert told or silent, f"{kind}: no recipient rule and no reason for silence"
    assert not (told and silent), f"{kind}: both a recipient rule and a reason for silence"


def test_rules_and_reasons_name_real_events() -> None:
    known = set(TRANSITIONS) | OTHER_EVENTS
    assert known >= NOTIFIED_KINDS
    assert set(SILENT) <= known
