"""How the API shows an object's audit trail."""

from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas import Input, Output
from service.core.fields import Day, Ref


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


class AuditExportArgs(Input):
    unit_id = Ref(required=True, metadata={"description": "an org unit id; includes its subtree"})
    from_ = Day(data_key="from", metadata={"description": "first day (Bangkok), ISO"})
    to = Day(metadata={"description": "last day (Bangkok), ISO"})
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))
