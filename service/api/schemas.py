"""The ground of the API's marshmallow schemas: `Input` and `Output`, paging, transition input
and answers, problems. Each domain's own schemas are in `service/<domain>/schemas.py`.

Every input schema rejects unknown fields (a typo is an error, never silently ignored).
Money, percents and measures travel as decimal strings ("90000.00"): JSON numbers are binary
floats and money is never a float. Texts refuse NUL characters, which PostgreSQL cannot
store, and respect the lengths of their columns, so bad input is a 422 and never a 500.
Where roles see different fields there is a schema per role: a user's email and phone are
shown to admins (and to the user themself) only.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from service.budget.models import DOCUMENT_REF_LENGTH
from service.core.fields import (  # noqa: F401 (MAX_ID and Percent are used by importers)
    MAX_ID,
    NO_NUL,
    Amount,
    Budget,
    Day,
    DecimalString,
    Id,
    Measure,
    Money,
    Percent,
    Ref,
    Text,
)


class Input(Schema):
    """Base of every input schema: unknown fields are an error."""

    class Meta:
        unknown = RAISE


class Output(Schema):
    """Base of every output schema (never loaded)."""

    class Meta:
        ordered = True


# ---- paging and filters ----------------------------------------------------------------------


class PageArgs(Input):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    after = fields.String(
        validate=[validate.Length(min=1, max=2000), validate.Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={"description": "the `next` cursor of the page before: the rows after it"},
    )


def page_of(item: type[Schema] | Schema, name: str) -> type[Schema]:
    """The envelope of one page of `item`s: {"items": [...], "page", "per_page", "total",
    "total_exact", "next"}."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
            "total_exact": fields.Boolean(
                required=True,
                metadata={
                    "description": "false when the list was counted only up to `total` "
                    "(10,000): it holds more"
                },
            ),
            "next": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "pass as `after` for the next page; null on the last"},
            ),
        },
        name=name,
    )


# ---- transitions -----------------------------------------------------------------------------


class TransitionInput(Input):
    """What a transition may need; each transition reads the fields it requires."""

    reason = Text(validate=validate.Length(max=5000))
    amount = Money()
    completion = Percent()
    narrative = Text(validate=validate.Length(max=20000))
    score = Percent()
    sub_score_1 = Percent()
    sub_score_2 = Percent()
    comment = Text(validate=validate.Length(max=5000))
    self_value = Measure()
    self_narrative = Text(validate=validate.Length(max=20000))
    paid_on = Day()
    document_ref = Text(validate=validate.Length(max=DOCUMENT_REF_LENGTH))


class ReadVersion(Input):
    id = Id(required=True)
    version = fields.Integer(strict=True, required=True, validate=validate.Range(0, MAX_ID))


class BulkTransitionInput(TransitionInput):
    ids = fields.List(Id(), required=True, validate=validate.Length(1, 100))
    versions = fields.List(
        fields.Nested(ReadVersion),
        validate=validate.Length(max=100),
        metadata={
            "description": "the version of each item the caller last read, as If-Match is for"
            " one: an item changed since is refused (409) and the others taken; an entry for"
            " an id not in `ids` is not used"
        },
    )


class OptionOut(Output):
    name = fields.String(required=True)
    label_th = fields.String(required=True)
    label_en = fields.String(required=True)
    allowed = fields.Boolean(required=True)
    reason = fields.String(allow_none=True)
    requires = fields.List(fields.String(), required=True)


class BulkItemOut(Output):
    id = fields.Integer(required=True)
    ok = fields.Boolean(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.String())


class BulkOut(Output):
    results = fields.List(fields.Nested(BulkItemOut), required=True)


class ProblemSchema(Output):
    """application/problem+json (RFC 9457)."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.String())
    state = fields.String()


# ---- org, users, fiscal years, strategy ------------------------------------------------------


class Presented:
    """An object with a few derived values beside its own attributes (progress, overdue),
    or with some of them hidden (a user's email from non-admins), for the schemas to dump."""

    def __init__(self, obj: Any, *, hide: tuple[str, ...] = (), **extras: Any) -> None:
        self._obj = obj
        self._hide = hide
        self.__dict__.update(extras)

    def __getattr__(self, name: str) -> Any:
        # A hidden attribute is absent, so the schema leaves the field out altogether.
        if name in self._hide:
            raise AttributeError(name)
        return getattr(self._obj, name)
