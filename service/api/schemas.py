"""The API's marshmallow schemas: what goes in and what comes out.

Every input schema rejects unknown fields (a typo is an error, never silently ignored).
Money, percents and measures travel as decimal strings ("90000.00"): JSON numbers are binary
floats and money is never a float. Texts refuse NUL characters, which PostgreSQL cannot
store, and respect the lengths of their columns, so bad input is a 422 and never a 500.
Where roles see different fields there is a schema per role: a user's email and phone are
shown to admins (and to the user themself) only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.budget.models import AllocationState, InstallmentState
from service.core.fields import (  # noqa: F401 (MAX_ID and Percent are used by importers)
    MAX_ID,
    NO_NUL,
    Amount,
    Budget,
    Day,
    DecimalString,
    Id,
    Measure,
    Money,
    Percent,
    Ref,
    Text,
)
from service.evaluations.models import EvaluationState
from service.kpis.models import KpiLevel, KpiType, MeasureKind
from service.org.models import Role, UnitKind
from service.projects.models import ProjectKind, ProjectState, ResultState


class Input(Schema):
    """Base of every input schema: unknown fields are an error."""

    class Meta:
        unknown = RAISE


class Output(Schema):
    """Base of every output schema (never loaded)."""

    class Meta:
        ordered = True


# ---- paging and filters ----------------------------------------------------------------------


class PageArgs(Input):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    after = fields.String(
        validate=[validate.Length(min=1, max=2000), validate.Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={"description": "the `next` cursor of the page before: the rows after it"},
    )


class ProjectFilter(PageArgs):
    fiscal_year = Ref(metadata={"description": "Buddhist Era year, e.g. 2566"})
    unit = Ref(metadata={"description": "an org unit id; includes its subtree"})
    state = fields.Enum(ProjectState, by_value=True)
    overdue = fields.Boolean(
        metadata={"description": "has a step past its planned end with a result not accepted"}
    )
    code = Text(validate=validate.Length(max=32))


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


class AllocationFilter(PageArgs):
    fiscal_year = Ref()
    unit = Ref(metadata={"description": "the recipient unit or its ancestors"})
    state = fields.Enum(AllocationState, by_value=True)
    project = Ref()


class InstallmentFilter(PageArgs):
    fiscal_year = Ref()
    unit = Ref()
    state = fields.Enum(InstallmentState, by_value=True)
    allocation = Ref()


class EvaluationFilter(PageArgs):
    fiscal_year = Ref()
    quarter = fields.Integer(validate=validate.Range(1, 4))
    state = fields.Enum(EvaluationState, by_value=True)
    project = Ref()


class UnitFilter(PageArgs):
    parent = Ref()
    kind = fields.Enum(UnitKind, by_value=True)


def page_of(item: type[Schema] | Schema, name: str) -> type[Schema]:
    """The envelope of one page of `item`s: {"items": [...], "page", "per_page", "total"}."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
            "next": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "pass as `after` for the next page; null on the last"},
            ),
        },
        name=name,
    )


# ---- transitions -----------------------------------------------------------------------------


class TransitionInput(Input):
    """What a transition may need; each transition reads the fields it requires."""

    reason = Text(validate=validate.Length(max=5000))
    amount = Money()
    completion = Percent()
    narrative = Text(validate=validate.Length(max=20000))
    score = Percent()
    sub_score_1 = Percent()
    sub_score_2 = Percent()
    comment = Text(validate=validate.Length(max=5000))
    self_value = Measure()
    self_narrative = Text(validate=validate.Length(max=20000))
    paid_on = Day()


class BulkTransitionInput(TransitionInput):
    ids = fields.List(Id(), required=True, validate=validate.Length(1, 100))


class OptionOut(Output):
    name = fields.String(required=True)
    label_th = fields.String(required=True)
    label_en = fields.String(required=True)
    allowed = fields.Boolean(required=True)
    reason = fields.String(allow_none=True)
    requires = fields.List(fields.String(), required=True)


class BulkItemOut(Output):
    id = fields.Integer(required=True)
    ok = fields.Boolean(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.String())


class BulkOut(Output):
    results = fields.List(fields.Nested(BulkItemOut), required=True)


class ProblemSchema(Output):
    """application/problem+json (RFC 9457)."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.String())
    state = fields.String()


# ---- org, users, fiscal years, strategy ------------------------------------------------------


class UnitOut(Output):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(allow_none=True)
    code = fields.String(required=True)
    name_th = fields.String(required=True)
    name_en = fields.String()
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    path = fields.String()
    approval_limit = Money(allow_none=True)
    approvals_required = fields.Integer(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)


class UnitCreate(Input):
    code = Text(required=True, validate=validate.Length(1, 32))
    name_th = Text(required=True, validate=validate.Length(1, 255))
    name_en = Text(load_default="", validate=validate.Length(max=255))
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    parent_id = Id(required=True)


class UnitUpdate(Input):
    name_th = Text(validate=validate.Length(1, 255))
    name_en = Text(validate=validate.Length(max=255))
    approval_limit = Money(allow_none=True, validate=validate.Range(min=0))
    approvals_required = fields.Integer(allow_none=True, validate=validate.Range(1, 5))


class RoleOut(Output):
    id = fields.Integer(required=True)
    role = fields.Enum(Role, by_value=True, required=True)
    unit_id = fields.Integer(required=True)
    unit_name = fields.Function(lambda a: a.unit.name_th)
    is_head = fields.Boolean()
    granted_at = fields.DateTime()


class PersonOut(Output):
    """A user as other users see them: no email, no phone."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    active = fields.Boolean()
    roles = fields.Method("active_roles")

    def active_roles(self, user: Any) -> list[dict[str, Any]]:
        return [RoleOut().dump(a) for a in user.roles if a.withdrawn_at is None]


class UserAdminOut(PersonOut):
    """A user as an admin (or the user themself) sees them."""

    email = fields.String()
    phone = fields.String()
    language = fields.String()
    created_at = fields.DateTime()


class UserCreate(Input):
    email = Text(
        required=True,
        validate=[validate.Length(3, 255), validate.Email()],
        metadata={"format": "email"},
    )
    name = Text(required=True, validate=validate.Length(1, 255))
    password = fields.String(
        required=True,
        validate=validate.Length(10, 200),
        load_only=True,
        metadata={"pattern": NO_NUL},
    )
    language = fields.String(load_default="th", validate=validate.OneOf(["th", "en"]))


class UserUpdate(Input):
    name = Text(validate=validate.Length(1, 255))
    language = fields.String(validate=validate.OneOf(["th", "en"]))
    phone = Text(validate=validate.Length(max=64))


class RoleGrant(Input):
    role = fields.Enum(Role, by_value=True, required=True)
    unit_id = Id(required=True)
    is_head = fields.Boolean(load_default=False)


class FiscalYearOut(Output):
    id = fields.Integer(required=True)
    be_year = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    is_open = fields.Boolean(required=True)


class FiscalYearCreate(Input):
    be_year = fields.Integer(required=True, strict=True, validate=validate.Range(2400, 2700))


class FiscalYearUpdate(Input):
    is_open = fields.Boolean(required=True)


class StrategyNodeOut(Output):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(allow_none=True)
    code = fields.String(required=True)
    level = fields.Integer(required=True)
    name = fields.String(required=True)


class StrategyNodeCreate(Input):
    code = Text(required=True, validate=validate.Length(1, 32))
    name = Text(required=True, validate=validate.Length(1, 2000))
    parent_id = Id(allow_none=True, load_default=None)


class StrategyNodeUpdate(Input):
    name = Text(required=True, validate=validate.Length(1, 2000))


class DelegationOut(Output):
    id = fields.Integer(required=True)
    principal_id = fields.Integer(required=True)
    delegate_id = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    reason = fields.String()
    created_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)


class DelegationCreate(Input):
    principal_id = Id(metadata={"description": "whose authority; default: yourself"})
    delegate_id = Id(required=True)
    starts_on = Day(required=True)
    ends_on = Day(required=True)
    reason = Text(load_default="", validate=validate.Length(max=500))

    @validates_schema
    def ordered(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["ends_on"] < data["starts_on"]:
            raise ValidationError("must not be before starts_on", "ends_on")


class TokenOut(Output):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewTokenOut(TokenOut):
    token = fields.String(
        required=True, metadata={"description": "shown once: only its hash is kept"}
    )


class TokenCreate(Input):
    name = Text(required=True, validate=validate.Length(1, 100))


# ---- projects --------------------------------------------------------------------------------


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


class ApprovalOut(Output):
    level = fields.Integer(required=True)
    round = fields.Integer(required=True)
    approver_id = fields.Integer(required=True)
    acting_for_id = fields.Integer(allow_none=True)
    amount = Money(required=True)
    approved_at = fields.DateTime(required=True)
    cancelled_at = fields.DateTime(allow_none=True)


class AllocationOut(Output):
    id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    recipient_unit_id = fields.Integer(required=True)
    amount = Money(required=True)
    purpose = fields.String()
    state = fields.Enum(AllocationState, by_value=True, required=True)
    version = fields.Integer(required=True)
    approval_round = fields.Integer()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)


class AllocationDetailOut(AllocationOut):
    approvals = fields.List(fields.Nested(ApprovalOut))


class AllocationCreate(Input):
    project_id = Id(required=True)
    recipient_unit_id = Id(required=True)
    amount = Amount(required=True)
    purpose = Text(load_default="", validate=validate.Length(max=5000))


class InstallmentOut(Output):
    id = fields.Integer(required=True)
    allocation_id = fields.Integer(required=True)
    amount = Money(required=True)
    state = fields.Enum(InstallmentState, by_value=True, required=True)
    version = fields.Integer(required=True)
    purpose = fields.String()
    requested_by_id = fields.Integer(allow_none=True)
    requested_at = fields.DateTime()
    paid_on = fields.Date(allow_none=True)


class InstallmentDetailOut(InstallmentOut):
    approvals = fields.List(fields.Nested(ApprovalOut))


class InstallmentCreate(Input):
    amount = Amount(required=True)
    purpose = Text(load_default="", validate=validate.Length(max=5000))


# ---- evaluations and audit -------------------------------------------------------------------


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
            raise ValidationError("give exactly one of project_id and kpi_id", "project_id")


class AuditOut(Output):
    id = fields.Integer(required=True)
    occurred_at = fields.DateTime(required=True)
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.Function(lambda e: e.actor.name if e.actor else None)
    acting_for_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.Integer(required=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    changes = fields.Dict()
    reason = fields.String()


class MeOut(UserAdminOut):
    auth = fields.String(metadata={"description": "session or token"})


class Presented:
    """An object with a few derived values beside its own attributes (progress, overdue),
    or with some of them hidden (a user's email from non-admins), for the schemas to dump."""

    def __init__(self, obj: Any, *, hide: tuple[str, ...] = (), **extras: Any) -> None:
        self._obj = obj
        self._hide = hide
        self.__dict__.update(extras)

    def __getattr__(self, name: str) -> Any:
        # A hidden attribute is absent, so the schema leaves the field out altogether.
        if name in self._hide:
            raise AttributeError(name)
        return getattr(self._obj, name)
