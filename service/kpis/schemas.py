"""How the API shows a KPI and its quarterly results."""

from __future__ import annotations

from marshmallow import fields

from service.api.schemas import Output
from service.core.fields import (
    Measure,
)
from service.kpis.models import KpiLevel, KpiType, MeasureKind


class KpiResultOut(Output):
    quarter = fields.Integer(required=True)
    value = Measure(allow_none=True)
    numerator = Measure(allow_none=True)
    denominator = Measure(allow_none=True)
    narrative = fields.String()


class KpiOut(Output):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    definition = fields.String()
    unit_label = fields.String()
    measure_kind = fields.Enum(MeasureKind, by_value=True)
    target = Measure()
    kpi_type = fields.Enum(KpiType, by_value=True)
    level = fields.Enum(KpiLevel, by_value=True)
    owner_unit_id = fields.Integer()
    results = fields.List(fields.Nested(KpiResultOut))
