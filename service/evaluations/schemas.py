"""What the evaluations API reads and answers."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from service.api.schemas import Input, Output, PageArgs
from service.core.fields import (
    Id,
    Measure,
    Percent,
    Ref,
)
from service.core.labels import field_label
from service.core.translate import gettext as _
from service.evaluations.models import EvaluationState


class EvaluationFilter(PageArgs):
    fiscal_year = Ref()
    quarter = fields.Integer(validate=validate.Range(1, 4))
    state = fields.Enum(EvaluationState, by_value=True)
    project = Ref()


class RevisionOut(Output):
    score = Percent(allow_none=True)
    sub_score_1 = Percent(allow_none=True)
    sub_score_2 = Percent(allow_none=True)
    comment = fields.String()
    evaluator_id = fields.Integer(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    reopened_by_id = fields.Integer()
    reopened_at = fields.DateTime()
    reason = fields.String()


class EvaluationOut(Output):
    id = fields.Integer(required=True)
    subject_type = fields.String(required=True)
    project_id = fields.Integer(allow_none=True)
    kpi_id = fields.Integer(allow_none=True)
    fiscal_year = fields.Function(lambda e: e.fiscal_year.be_year)
    quarter = fields.Integer(required=True)
    state = fields.Enum(EvaluationState, by_value=True, required=True)
    version = fields.Integer(required=True)
    self_value = Measure(allow_none=True)
    self_narrative = fields.String()
    score = Percent(allow_none=True)
    sub_score_1 = Percent(allow_none=True)
    sub_score_2 = Percent(allow_none=True)
    comment = fields.String()
    evaluator_id = fields.Integer(allow_none=True)
    scored_at = fields.DateTime(allow_none=True)
    published_at = fields.DateTime(allow_none=True)


class EvaluationDetailOut(EvaluationOut):
    revisions = fields.List(fields.Nested(RevisionOut))


class EvaluationCreate(Input):
    project_id = Id()
    kpi_id = Id()
    fiscal_year = fields.Integer(required=True, strict=True, validate=validate.Range(2400, 2700))
    quarter = fields.Integer(required=True, strict=True, validate=validate.Range(1, 4))

    @validates_schema
    def one_subject(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("project_id" in data) == ("kpi_id" in data):
            raise ValidationError(
                _(
                    "give exactly one of %(project)s and %(kpi)s",
                    project=field_label("project_id"),
                    kpi=field_label("kpi_id"),
                ),
                "project_id",
            )
