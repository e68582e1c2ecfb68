"""What the org API reads and answers: units, users and their roles, delegations."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from service.api.schemas import Input, Output, PageArgs
from service.core.fields import (
    NO_NUL,
    Day,
    Id,
    Money,
    Ref,
    Text,
)
from service.core.labels import field_label
from service.core.translate import gettext as _
from service.org.models import Role, UnitKind


class UnitFilter(PageArgs):
    parent = Ref()
    kind = fields.Enum(UnitKind, by_value=True)


class UnitOut(Output):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(allow_none=True)
    code = fields.String(required=True)
    name_th = fields.String(required=True)
    name_en = fields.String()
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    path = fields.String()
    approval_limit = Money(allow_none=True)
    approvals_required = fields.Integer(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)


class UnitCreate(Input):
    code = Text(required=True, validate=validate.Length(1, 32))
    name_th = Text(required=True, validate=validate.Length(1, 255))
    name_en = Text(load_default="", validate=validate.Length(max=255))
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    parent_id = Id(required=True)


class UnitUpdate(Input):
    name_th = Text(validate=validate.Length(1, 255))
    name_en = Text(validate=validate.Length(max=255))
    approval_limit = Money(allow_none=True, validate=validate.Range(min=0))
    approvals_required = fields.Integer(allow_none=True, validate=validate.Range(1, 5))


class RoleOut(Output):
    id = fields.Integer(required=True)
    role = fields.Enum(Role, by_value=True, required=True)
    unit_id = fields.Integer(required=True)
    unit_name = fields.Function(lambda a: a.unit.name_th)
    is_head = fields.Boolean()
    granted_at = fields.DateTime()


class PersonOut(Output):
    """A user as other users see them: no email, no phone."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    active = fields.Boolean()
    roles = fields.Method("active_roles")

    def active_roles(self, user: Any) -> list[dict[str, Any]]:
        return [RoleOut().dump(a) for a in user.roles if a.withdrawn_at is None]


class UserAdminOut(PersonOut):
    """A user as an admin (or the user themself) sees them."""

    email = fields.String()
    phone = fields.String()
    language = fields.String()
    created_at = fields.DateTime()


class UserCreate(Input):
    email = Text(
        required=True,
        validate=[validate.Length(3, 255), validate.Email()],
        metadata={"format": "email"},
    )
    name = Text(required=True, validate=validate.Length(1, 255))
    password = fields.String(
        required=True,
        validate=validate.Length(10, 200),
        load_only=True,
        metadata={"pattern": NO_NUL},
    )
    language = fields.String(load_default="th", validate=validate.OneOf(["th", "en"]))


class UserUpdate(Input):
    name = Text(validate=validate.Length(1, 255))
    language = fields.String(validate=validate.OneOf(["th", "en"]))
    phone = Text(validate=validate.Length(max=64))


class TemporaryPassword(Input):
    password = fields.String(
        required=True,
        validate=validate.Length(1, 200),
        load_only=True,
        metadata={"pattern": NO_NUL},
    )


class SsoIdentity(Input):
    identity = Text(required=True, validate=validate.Length(max=255))


class SignInState(Output):
    """What an admin sees of someone's sign-in."""

    id = fields.Integer(required=True)
    password_must_change = fields.Boolean()
    second_factor = fields.Function(lambda user: user.totp_secret is not None)
    sso_identity = fields.String(allow_none=True)


class SessionsEnded(Output):
    sessions_ended = fields.Integer(required=True)


class RoleGrant(Input):
    role = fields.Enum(Role, by_value=True, required=True)
    unit_id = Id(required=True)
    is_head = fields.Boolean(load_default=False)


class DelegationOut(Output):
    id = fields.Integer(required=True)
    principal_id = fields.Integer(required=True)
    delegate_id = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    reason = fields.String()
    created_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)


class DelegationCreate(Input):
    principal_id = Id(metadata={"description": "whose authority; default: yourself"})
    delegate_id = Id(required=True)
    starts_on = Day(required=True)
    ends_on = Day(required=True)
    reason = Text(load_default="", validate=validate.Length(max=500))

    @validates_schema
    def ordered(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["ends_on"] < data["starts_on"]:
            raise ValidationError(
                _("must not be before %(field)s", field=field_label("starts_on")), "ends_on"
            )


class MeOut(UserAdminOut):
    auth = fields.String(metadata={"description": "session or token"})
