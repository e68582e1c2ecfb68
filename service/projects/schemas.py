"""What the projects API reads and answers: projects, their plan steps, progress reports
and step results."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import fields, validate

from service.api.schemas import Input, Output, PageArgs
from service.core.fields import (
    Budget,
    Code,
    Day,
    Id,
    Money,
    Percent,
    Ref,
    Text,
)
from service.projects.models import ProjectKind, ProjectState, ResultState


class ProjectFilter(PageArgs):
    fiscal_year = Ref(metadata={"description": "Buddhist Era year, e.g. 2566"})
    unit = Ref(metadata={"description": "an org unit id; includes its subtree"})
    state = fields.Enum(ProjectState, by_value=True)
    overdue = fields.Boolean(
        metadata={"description": "has a step past its planned end with a result not accepted"}
    )
    code = Code(validate=validate.Length(max=32))


class StepFilter(Input):
    overdue = fields.Boolean()


class ResultFilter(PageArgs):
    fiscal_year = Ref()
    unit = Ref(metadata={"description": "the reporting unit or its ancestors"})
    state = fields.Enum(ResultState, by_value=True)
    overdue = fields.Boolean(
        metadata={"description": "the step's planned end is past (Bangkok) and not accepted"}
    )
    project = Ref()


class ProjectOut(Output):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    fiscal_year = fields.Function(lambda p: p.fiscal_year.be_year)
    kind = fields.Enum(ProjectKind, by_value=True)
    state = fields.Enum(ProjectState, by_value=True, required=True)
    version = fields.Integer(required=True)
    owner_unit_id = fields.Integer()
    responsible_unit_id = fields.Integer()
    approved_budget = Money()
    multi_year = fields.Boolean()
    in_plan = fields.Boolean()
    unit_codes = fields.String()
    contact_name = fields.String()
    contact_phone = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProjectDetailOut(ProjectOut):
    rationale = fields.String()
    objectives = fields.Function(lambda p: [o.text for o in p.objectives])
    targets = fields.Function(lambda p: [{"kind": t.kind.value, "text": t.text} for t in p.targets])
    strategies = fields.Function(lambda p: [s.code for s in p.strategies])
    progress = Percent(metadata={"description": "Σ weight × accepted completion"})


class ProjectCreate(Input):
    code = Text(required=True, validate=validate.Length(1, 32))
    name = Text(required=True, validate=validate.Length(1, 5000))
    fiscal_year = fields.Integer(required=True, strict=True, validate=validate.Range(2400, 2700))
    owner_unit_id = Id(required=True)
    responsible_unit_id = Id(required=True)
    kind = fields.Enum(ProjectKind, by_value=True, load_default=ProjectKind.ROUTINE)
    approved_budget = Budget(load_default=Decimal("0.00"))
    rationale = Text(validate=validate.Length(max=50000))
    contact_name = Text(validate=validate.Length(max=255))
    contact_phone = Text(validate=validate.Length(max=64))
    unit_codes = Text(validate=validate.Length(max=64))


class ProjectUpdate(Input):
    name = Text(validate=validate.Length(1, 5000))
    rationale = Text(validate=validate.Length(max=50000))
    contact_name = Text(validate=validate.Length(max=255))
    contact_phone = Text(validate=validate.Length(max=64))
    unit_codes = Text(validate=validate.Length(max=64))
    multi_year = fields.Boolean()
    in_plan = fields.Boolean()
    approved_budget = Budget()
    kind = fields.Enum(ProjectKind, by_value=True)


class StepOut(Output):
    id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    name = fields.String(required=True)
    weight = Percent()
    planned_start = fields.Date()
    planned_end = fields.Date()
    responsible_unit_id = fields.Integer(allow_none=True)
    overdue = fields.Boolean()


class StepInput(Input):
    position = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1000))
    name = Text(required=True, validate=validate.Length(1, 5000))
    weight = Percent(required=True)
    planned_start = Day(required=True)
    planned_end = Day(required=True)
    responsible_unit_id = Id(allow_none=True, load_default=None)


class AssignInput(Input):
    unit_id = Id(required=True)


class ReportOut(Output):
    id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    reported_on = fields.Date(required=True)
    percent = Percent(required=True)
    narrative = fields.String()
    problems = fields.String()
    obstacles = fields.String()
    author_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ReportInput(Input):
    reported_on = Day(required=True)
    percent = Percent(required=True)
    narrative = Text(required=True, validate=validate.Length(1, 20000))
    problems = Text(load_default="", validate=validate.Length(max=20000))
    obstacles = Text(load_default="", validate=validate.Length(max=20000))


class ResultOut(Output):
    id = fields.Integer(required=True)
    step_id = fields.Integer(required=True)
    project_id = fields.Function(lambda r: r.step.project_id)
    unit_id = fields.Integer(required=True)
    state = fields.Enum(ResultState, by_value=True, required=True)
    version = fields.Integer(required=True)
    completion = Percent()
    accepted_completion = Percent(allow_none=True)
    narrative = fields.String()
    submitted_by_id = fields.Integer(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    reviewed_by_id = fields.Integer(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_reason = fields.String()
    planned_end = fields.Function(lambda r: r.step.planned_end.isoformat())
    overdue = fields.Boolean()


# ---- budget ----------------------------------------------------------------------------------
