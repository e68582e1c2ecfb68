"""What the evaluations' words are called: their states, the actions on them that no workflow
table names and the inputs of their forms."""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l
from service.evaluations.models import EvaluationState

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
    EvaluationState: {
        EvaluationState.OPEN.value: _l("Open"),
        EvaluationState.SELF_ASSESSED.value: _l("Self-assessed"),
        EvaluationState.SCORED.value: _l("Scored"),
        EvaluationState.PUBLISHED.value: _l("Published"),
    },
}

OBJECT_TYPES: dict[str, LazyString] = {
    "evaluation": _l("Evaluation"),
}

ACTIONS: dict[str, LazyString] = {
    "evaluation.open": _l("Evaluation opened"),
}

FIELDS: dict[str, LazyString] = {
    "kpi_id": _l("KPI"),
    "self_value": _l("Self-assessment"),
    "self_narrative": _l("What was done"),
    "score": _l("Score"),
    "sub_score_1": _l("Sub-score 1"),
    "sub_score_2": _l("Sub-score 2"),
}
