"""How the API reads and shows personal API tokens."""

from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas import Input, Output
from service.core.fields import (
    Text,
)


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
