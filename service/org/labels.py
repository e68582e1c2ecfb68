"""What the organisation's words are called: roles, kinds of unit, units, users, delegations,
the actions on them and the inputs of their forms."""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l
from service.org.models import Role, UnitKind

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
    Role: {
        Role.SCHOOL.value: _l("School"),
        Role.OFFICER.value: _l("District officer"),
        Role.APPROVER.value: _l("District approver"),
        Role.EVALUATOR.value: _l("Evaluator"),
        Role.ADMIN.value: _l("Administrator"),
    },
    UnitKind: {
        UnitKind.ADMINISTRATION.value: _l("Administration"),
        UnitKind.DISTRICT_OFFICE.value: _l("District office"),
        UnitKind.DEPARTMENT.value: _l("Department"),
        UnitKind.DIVISION.value: _l("Division"),
        UnitKind.SCHOOL_NETWORK.value: _l("School network"),
        UnitKind.SCHOOL.value: _l("School"),
    },
}

OBJECT_TYPES: dict[str, LazyString] = {
    "org_unit": _l("Unit"),
    "unit": _l("Unit"),
    "app_user": _l("User"),
    "user": _l("User"),
    "delegation": _l("Delegation"),
}

ACTIONS: dict[str, LazyString] = {
    "delegation.create": _l("Delegation given"),
    "delegation.withdraw": _l("Delegation withdrawn"),
    "role.grant": _l("Role granted"),
    "role.withdraw": _l("Role withdrawn"),
    "unit.limit": _l("Approval rule changed"),
    "user.deactivate": _l("Account deactivated"),
    "user.reactivate": _l("Account reactivated"),
    "user.update": _l("Account changed"),
}

FIELDS: dict[str, LazyString] = {
    "role": _l("Role"),
    "limit": _l("Approval limit"),
    "approval_limit": _l("Approval limit"),
    "approvals_required": _l("Approvals required"),
    "parent": _l("Parent unit"),
    "parent_code": _l("Parent's code"),
    "name_th": _l("Thai name"),
    "name_en": _l("English name"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "language": _l("Language"),
    "is_head": _l("Head of the unit"),
    "delegate_id": _l("Delegate"),
    "principal_id": _l("On behalf of"),
    "sso_identity": _l("Single sign-on identity"),
    "identity": _l("Identity at the identity provider"),
}
