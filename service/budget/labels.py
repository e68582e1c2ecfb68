"""What the budget's words are called: states of allocations, installments and transfers, the
actions on them that no workflow table names, and the inputs of their forms."""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.budget.models import AllocationState, InstallmentState, TransferState
from service.core.translate import lazy_gettext as _l

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
    AllocationState: {
        AllocationState.DRAFT.value: _l("Draft"),
        AllocationState.SUBMITTED.value: _l("Awaiting approval"),
        AllocationState.RETURNED.value: _l("Returned"),
        AllocationState.APPROVED.value: _l("Approved"),
        AllocationState.DISBURSING.value: _l("Disbursing"),
        AllocationState.COMPLETED.value: _l("Completed"),
        AllocationState.REJECTED.value: _l("Rejected"),
        AllocationState.WITHDRAWN.value: _l("Withdrawn"),
    },
    InstallmentState: {
        InstallmentState.REQUESTED.value: _l("Requested"),
        InstallmentState.APPROVED.value: _l("Approved"),
        InstallmentState.PAID.value: _l("Paid"),
        InstallmentState.REJECTED.value: _l("Rejected"),
    },
    TransferState: {
        TransferState.PREPARED.value: _l("Prepared"),
        TransferState.ENDORSED.value: _l("Endorsed"),
        TransferState.APPROVED.value: _l("Approved"),
        TransferState.RETURNED.value: _l("Returned"),
        TransferState.REJECTED.value: _l("Rejected"),
        TransferState.WITHDRAWN.value: _l("Withdrawn"),
    },
}

OBJECT_TYPES: dict[str, LazyString] = {
    "allocation": _l("Allocation"),
    "installment": _l("Installment"),
    "budget_transfer": _l("Budget transfer"),
}

ACTIONS: dict[str, LazyString] = {
    "allocation.create": _l("Allocation created"),
    "installment.request": _l("Installment requested"),
    "installment.payment": _l("Part of an installment paid"),
    "allocation.undecidable": _l("Nobody may approve it as it stands: its preparer told"),
    "installment.undecidable": _l("Nobody may approve it as it stands: its requester told"),
    "budget_transfer.create": _l("Budget transfer prepared"),
}

FIELDS: dict[str, LazyString] = {
    "allocation": _l("Allocation"),
    "amount": _l("Amount"),
    "purpose": _l("Purpose"),
    "paid_on": _l("Paid on"),
    "document_ref": _l("Document number"),
    "recipient_unit_id": _l("Recipient"),
    "source_id": _l("From project"),
    "target_id": _l("To project"),
    "new_project": _l("New project"),
}
