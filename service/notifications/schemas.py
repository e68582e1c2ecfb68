"""What the notifications API reads and answers: webhook endpoints, their deliveries, and
"retry all failed"."""

from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas import Input, Output, PageArgs, Text
from service.notifications.models import Channel, DeliveryState


class WebhookOut(Output):
    id = fields.Integer(required=True)
    unit_id = fields.Integer(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True)
    kinds = fields.List(
        fields.String(), required=True, metadata={"description": "empty: every kind"}
    )
    created_at = fields.DateTime()
    secret_rotated_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)


class NewWebhookOut(WebhookOut):
    secret = fields.String(
        required=True,
        metadata={
            "description": "the HMAC-SHA256 signing secret, shown once (here and on rotation)"
        },
    )


class WebhookSecretOut(Output):
    id = fields.Integer(required=True)
    secret = fields.String(required=True, metadata={"description": "shown once"})


class WebhookCreate(Input):
    unit_id = fields.Integer(required=True, validate=validate.Range(1, 2**31 - 1))
    url = Text(required=True, validate=validate.Length(1, 500))
    name = Text(load_default="", validate=validate.Length(0, 100))
    kinds = fields.List(
        fields.String(validate=validate.Length(1, 64)),
        load_default=list,
        validate=validate.Length(0, 64),
    )


class WebhookUpdate(Input):
    url = Text(validate=validate.Length(1, 500))
    name = Text(validate=validate.Length(0, 100))
    kinds = fields.List(
        fields.String(validate=validate.Length(1, 64)), validate=validate.Length(0, 64)
    )


class DeliveryOut(Output):
    id = fields.Integer(required=True)
    delivery = fields.String(attribute="delivery_key", required=True)
    kind = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.Integer(required=True)
    channel = fields.Enum(Channel, by_value=True, required=True)
    state = fields.Enum(DeliveryState, by_value=True, required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryFilter(PageArgs):
    state = fields.Enum(DeliveryState, by_value=True)


class RetryFailed(Input):
    channel = fields.Enum(Channel, by_value=True, metadata={"description": "none: every channel"})
    kind = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "none: every kind"}
    )


class RetriedOut(Output):
    count = fields.Integer(required=True)
    ids = fields.List(fields.Integer(), required=True)
