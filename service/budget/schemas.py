"""What the budget's pages and API read and answer: allocations, installments, payments,
transfers and the disbursement curve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate
from marshmallow.validate import Length

from service.api.schemas import Input, Output, PageArgs
from service.budget.models import (
    DOCUMENT_REF_LENGTH,
    AllocationState,
    InstallmentState,
    TransferState,
)
from service.core.fields import Amount, Day, FormId, Id, Invalid, Money, Ref, Text, value_of
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.workflow.engine import Refused


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


class TransferOut(Output):
    id = fields.Integer(required=True)
    source_id = fields.Integer(required=True)
    target_id = fields.Integer(required=True)
    amount = Money(required=True)
    reason = fields.String(required=True)
    state = fields.Enum(TransferState, by_value=True, required=True)
    version = fields.Integer(required=True)
    approval_round = fields.Integer()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    approved_at = fields.DateTime(allow_none=True)


class TransferDetailOut(TransferOut):
    approvals = fields.List(fields.Nested(ApprovalOut))


class NewProjectIn(Input):
    code = Text(required=True, validate=validate.Length(min=1, max=32))
    name = Text(required=True, validate=validate.Length(min=1, max=500))


class TransferCreate(Input):
    source_id = Id(required=True)
    target_id = Id(metadata={"description": "another project of the same unit and year"})
    new_project = fields.Nested(
        NewProjectIn,
        metadata={"description": "without target_id: a new draft project receives the money"},
    )
    amount = Amount(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=5000))


class TransferFilter(PageArgs):
    project = Ref(metadata={"description": "transfers out of or into this project"})
    state = fields.Enum(TransferState, by_value=True)


class PaymentCreate(Input):
    paid_on = Day(required=True)
    amount = Amount(required=True)
    document_ref = Text(required=True, validate=validate.Length(min=1, max=DOCUMENT_REF_LENGTH))


class PaymentOut(Output):
    id = fields.Integer(required=True)
    installment_id = fields.Integer(required=True)
    paid_on = fields.Date(required=True)
    amount = Money(required=True)
    document_ref = fields.String(required=True)
    recorded_by_id = fields.Integer(allow_none=True)
    recorded_at = fields.DateTime()


class MoneyPointOut(Output):
    month_end = fields.Date(required=True, attribute="day")
    planned = Money(required=True)
    paid = Money(allow_none=True, metadata={"description": "null for months not begun"})


class DisbursementOut(Output):
    budget = Money(required=True)
    paid = Money(required=True)
    months = fields.List(fields.Nested(MoneyPointOut), required=True, attribute="points")


class DisbursementArgs(Input):
    fiscal_year = Ref(metadata={"description": "Buddhist Era year, e.g. 2566 (default: now)"})


PAYMENT_FIELDS = {
    "paid_on": _l("Paid on"),
    "amount": _l("Amount paid (baht)"),
    "document_ref": _l("Document number"),
}


def read_payment(source: Mapping[str, Any], *, typed: bool) -> dict[str, Any]:
    """paid_on, amount and document_ref of a payment. `typed` (a page) reads BE days and
    amounts with thousands separators. Raises Refused(422) naming the field."""
    wanted: dict[str, fields.Field] = {
        "paid_on": Day(typed=typed, required=True),
        "amount": Money(commas=typed, required=True),
        "document_ref": Text(required=True),
    }
    return _read_all(wanted, source, PAYMENT_FIELDS)


def _read_all(
    wanted: Mapping[str, fields.Field], source: Mapping[str, Any], labels: Mapping[str, Any]
) -> dict[str, Any]:
    """Each of `wanted` read from `source`, or Refused(422) naming every field refused at
    once: an empty payment form named the day alone, and the document number only on the
    next try."""
    found: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, field in wanted.items():
        try:
            found[name] = value_of(field, source, name)
        except Invalid as invalid:
            problems[invalid.name] = invalid.message
    if problems:
        reason = "; ".join(
            _("%(field)s: %(problem)s", field=labels[name], problem=problem)
            for name, problem in problems.items()
        )
        raise Refused(422, reason, fields=problems)
    return found


TRANSFER_FIELDS = {
    "source_id": _l("From project"),
    "target_id": _l("To project"),
    "new_code": _l("New project code"),
    "new_name": _l("New project name"),
    "amount": _l("Amount (baht)"),
    "reason": _l("Reason"),
}


def read_transfer(source: Mapping[str, Any], *, typed: bool) -> dict[str, Any]:
    """source_id, target_id (or new_project: code and name), amount and reason of a budget
    transfer. Raises Refused(422) naming every field refused, as read_payment does."""
    wanted: dict[str, fields.Field] = {
        "source_id": FormId(required=True),
        "target_id": FormId(),
        "amount": Money(commas=typed, required=True),
        "reason": Text(required=True, validate=Length(max=5000)),
        "new_code": Text(validate=Length(max=32)),
        "new_name": Text(validate=Length(max=500)),
    }
    found = _read_all(wanted, source, TRANSFER_FIELDS)
    code, name = found.pop("new_code"), found.pop("new_name")
    found["new_project"] = {"code": code or "", "name": name or ""} if code or name else None
    return found
