"""What the budget API reads and answers: allocations and their installments."""

from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas import Input, Output, PageArgs
from service.budget.models import AllocationState, InstallmentState
from service.core.fields import (
    Amount,
    Id,
    Money,
    Ref,
    Text,
)


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
