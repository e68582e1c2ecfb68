"""Reading the budget's forms and API bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow.validate import Length

from service.core.fields import Day, FormId, Invalid, Money, Text, value_of
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.workflow.engine import Refused

PAYMENT_FIELDS = {
    "paid_on": _l("Paid on"),
    "amount": _l("Amount paid (baht)"),
    "document_ref": _l("Document number"),
}


def read_payment(source: Mapping[str, Any], *, typed: bool) -> dict[str, Any]:
    """paid_on, amount and document_ref of a payment. `typed` (a page) reads BE days and
    amounts with thousands separators. Raises Refused(422) naming the field."""
    try:
        return {
            "paid_on": value_of(Day(typed=typed, required=True), source, "paid_on"),
            "amount": value_of(Money(commas=typed, required=True), source, "amount"),
            "document_ref": value_of(Text(required=True), source, "document_ref"),
        }
    except Invalid as invalid:
        reason = _(
            "%(field)s: %(problem)s", field=PAYMENT_FIELDS[invalid.name], problem=invalid.message
        )
        raise Refused(422, reason, fields={invalid.name: invalid.message}) from None


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
    transfer. Raises Refused(422) naming the field."""
    try:
        found = {
            "source_id": value_of(FormId(required=True), source, "source_id"),
            "target_id": value_of(FormId(), source, "target_id"),
            "amount": value_of(Money(commas=typed, required=True), source, "amount"),
            "reason": value_of(Text(required=True, validate=Length(max=5000)), source, "reason"),
        }
        code = value_of(Text(validate=Length(max=32)), source, "new_code")
        name = value_of(Text(validate=Length(max=500)), source, "new_name")
    except Invalid as invalid:
        reason = _(
            "%(field)s: %(problem)s", field=TRANSFER_FIELDS[invalid.name], problem=invalid.message
        )
        raise Refused(422, reason, fields={invalid.name: invalid.message}) from None
    found["new_project"] = {"code": code or "", "name": name or ""} if code or name else None
    return found
