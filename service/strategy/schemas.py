"""How the API reads and shows the strategy tree."""

from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas import Input, Output
from service.core.fields import (
    Id,
    Text,
)


class StrategyNodeOut(Output):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(allow_none=True)
    code = fields.String(required=True)
    level = fields.Integer(required=True)
    name = fields.String(required=True)


class StrategyNodeCreate(Input):
    code = Text(required=True, validate=validate.Length(1, 32))
    name = Text(required=True, validate=validate.Length(1, 500))
    parent_id = Id(allow_none=True, load_default=None)


class StrategyNodeUpdate(Input):
    name = Text(required=True, validate=validate.Length(1, 500))
