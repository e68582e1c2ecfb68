"""How the API reads and shows fiscal years."""

from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas import Input, Output


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
