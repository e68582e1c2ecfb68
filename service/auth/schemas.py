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


class SessionOut(Output):
    """One of the caller's signed-in browsers, as /account lists them."""

    id = fields.Integer(required=True)
    device = fields.String(
        required=True, metadata={"description": "browser and system, read from its User-Agent"}
    )
    address = fields.String(required=True, metadata={"description": "the last address seen"})
    method = fields.String(required=True, metadata={"description": "`password` or `sso`"})
    second_factor = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    current = fields.Boolean(
        required=True, metadata={"description": "the session this request was made in"}
    )


class TokenCreate(Input):
    name = Text(required=True, validate=validate.Length(1, 100))


# ---- projects --------------------------------------------------------------------------------
