"""What goes into and comes out of the KPI pages and the API.

The API's schemas and the pages' form reader share the field kinds of service.core.fields
(texts without NUL, measures as exact decimals, ids within the column): a value the API refuses
is refused by the page too, each naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from service.api.schemas import Input, Output, PageArgs
from service.core.fields import Code, FormId, Id, Invalid, Measure, Ref, Text, value_of
from service.core.translate import gettext as _
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


# ---- the API -------------------------------------------------------------------------------

#: The document's pattern of a measure that is never negative (a target, a denominator).
NON_NEGATIVE_MEASURE = r"^[0-9]{1,12}(\.[0-9]{1,4})?$"


def NonNegativeMeasure(**kwargs: Any) -> Any:
    kwargs.setdefault("validate", validate.Range(min=0))
    metadata = {"pattern": NON_NEGATIVE_MEASURE, **kwargs.pop("metadata", {})}
    return Measure(metadata=metadata, **kwargs)


class KpiFilter(PageArgs):
    fiscal_year = Ref(metadata={"description": "Buddhist Era year, e.g. 2566"})
    unit = Ref(metadata={"description": "an org unit id; KPIs owned in its subtree"})
    kpi_type = fields.Enum(KpiType, by_value=True)
    code = Code(validate=validate.Length(max=32))


class KpiUpdate(Input):
    code = Text(validate=validate.Length(1, 32))
    name = Text(validate=validate.Length(1, 5000))
    definition = Text(validate=validate.Length(max=20000))
    unit_label = Text(validate=validate.Length(1, 64))
    measure_kind = fields.Enum(MeasureKind, by_value=True)
    target = NonNegativeMeasure()
    kpi_type = fields.Enum(KpiType, by_value=True)
    level = fields.Enum(KpiLevel, by_value=True)
    owner_unit_id = Id()


class KpiCreate(KpiUpdate):
    code = Text(required=True, validate=validate.Length(1, 32))
    name = Text(required=True, validate=validate.Length(1, 5000))
    fiscal_year = fields.Integer(required=True, strict=True, validate=validate.Range(2400, 2700))
    owner_unit_id = Id(required=True)
    target = NonNegativeMeasure(required=True)


class KpiResultInput(Input):
    value = Measure(required=True)
    narrative = Text(load_default="", validate=validate.Length(max=5000))
    numerator = Measure(allow_none=True, load_default=None)
    denominator = NonNegativeMeasure(allow_none=True, load_default=None)


class KpiLinkInput(Input):
    project_id = Id(required=True)


class KpiEvidenceOut(Output):
    id = fields.Integer(required=True)
    original_name = fields.String(required=True)
    content_type = fields.String()
    size = fields.Integer()
    uploaded_by_id = fields.Integer()
    uploaded_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)


class KpiQuarterOut(KpiResultOut):
    evidence = fields.List(fields.Nested(KpiEvidenceOut), attribute="current_evidence")


class KpiDetailOut(KpiOut):
    fiscal_year = fields.Function(lambda k: k.fiscal_year.be_year)
    computed = fields.Function(lambda k: bool(k.computation))
    project_ids = fields.Function(lambda k: [p.id for p in k.projects])
    results = fields.List(fields.Nested(KpiQuarterOut))


# ---- the pages -----------------------------------------------------------------------------

#: The KPI form's fields, read the way the API reads them (forms send text: ids as digits).
FORM_FIELDS: dict[str, fields.Field] = {
    "code": Text(required=True, validate=validate.Length(1, 32)),
    "name": Text(required=True, validate=validate.Length(1, 5000)),
    "definition": Text(validate=validate.Length(max=20000)),
    "unit_label": Text(required=True, validate=validate.Length(1, 64)),
    "measure_kind": fields.Enum(MeasureKind, by_value=True, required=True),
    "target": Measure(commas=True, required=True, validate=validate.Range(min=0)),
    "kpi_type": fields.Enum(KpiType, by_value=True, required=True),
    "level": fields.Enum(KpiLevel, by_value=True, required=True),
    "owner_unit_id": FormId(required=True),
    "fiscal_year_id": FormId(required=True),
}

RESULT_FIELDS: dict[str, fields.Field] = {
    "quarter": fields.Integer(required=True, validate=validate.Range(1, 4)),
    "value": Measure(commas=True, required=True),
    "narrative": Text(validate=validate.Length(max=5000)),
    "numerator": Measure(commas=True),
    "denominator": Measure(commas=True, validate=validate.Range(min=0)),
}


def read_form(
    wanted: Mapping[str, fields.Field], form: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values of `wanted` in `form` and, per field, what is wrong with it (translated).
    A blank optional field reads as None (a text as "")."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, field in wanted.items():
        try:
            value = value_of(field, form, name)
        except Invalid as invalid:
            problems[name] = (
                _("is not valid") if field.__class__ is fields.Enum else invalid.message
            )
            continue
        values[name] = "" if value is None and isinstance(field, Text) else value
    return values, problems
