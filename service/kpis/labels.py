"""What the KPIs' words are called: kinds of measure, KPI types and levels, the KPI's objects,
the actions on them and the inputs of their forms."""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l
from service.kpis.models import KpiLevel, KpiType, MeasureKind

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
    MeasureKind: {
        MeasureKind.PERCENT.value: _l("Percent"),
        MeasureKind.COUNT.value: _l("Count"),
        MeasureKind.LEVEL.value: _l("Level"),
        MeasureKind.AVERAGE.value: _l("Average"),
        MeasureKind.STEPS_COMPLETE.value: _l("Steps complete"),
        MeasureKind.OTHER.value: _l("Other"),
    },
    KpiType: {
        KpiType.ROUTINE.value: _l("Routine-work KPI"),
        KpiType.STRATEGIC.value: _l("Strategic KPI"),
    },
    KpiLevel: {
        KpiLevel.OUTPUT.value: _l("Output-level KPI"),
        KpiLevel.OUTCOME.value: _l("Outcome-level KPI"),
    },
}

OBJECT_TYPES: dict[str, LazyString] = {
    "kpi": _l("KPI"),
    "kpi_result": _l("KPI result"),
    "kpi_evidence": _l("KPI evidence file"),
}

ACTIONS: dict[str, LazyString] = {
    "kpi.create": _l("KPI created"),
    "kpi.update": _l("KPI changed"),
    "kpi.link": _l("KPI linked to a project"),
    "kpi.unlink": _l("KPI unlinked from a project"),
    "kpi.result": _l("KPI result reported"),
    "kpi.evidence_upload": _l("KPI evidence uploaded"),
    "kpi.evidence_withdraw": _l("KPI evidence withdrawn"),
}

FIELDS: dict[str, LazyString] = {
    "definition": _l("Definition"),
    "unit_label": _l("Unit of measure"),
    "measure_kind": _l("Kind of measure"),
    "target": _l("Target"),
    "kpi_type": _l("KPI type"),
    "level": _l("KPI level"),
    "value": _l("Result"),
    "numerator": _l("Numerator"),
    "denominator": _l("Denominator"),
}
