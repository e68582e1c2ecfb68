"""/api/v1/audit/<type>/<id>: the trail of one object, for those who may see the object."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from service.api.auth import actor
from service.api.blueprint import Blueprint
from service.api.paging import paginate
from service.api.schemas import PageArgs, page_of
from service.api.scoping import get_project, get_visible
from service.api.transitions import ID
from service.audit.export import TrailRequest, default_range, trail_download
from service.audit.models import AuditEntry
from service.audit.permissions import exports_whole_service, may_export_trail
from service.audit.schemas import AuditExportArgs, AuditOut
from service.core.permissions import manages_user
from service.core.translate import gettext as _
from service.extensions import db
from service.kpis.models import Kpi
from service.kpis.permissions import can_see_kpi
from service.org.models import Delegation, OrgUnit, User
from service.workflow.engine import Refused, missing

blp = Blueprint("api_audit", __name__, url_prefix="/api/v1", description="Audit trail")

WORKFLOW_OBJECTS = ("step_result", "allocation", "installment", "budget_transfer", "evaluation")
ADMIN_OBJECTS = ("user", "delegation")
OBJECT_TYPES = ("project", "kpi", *WORKFLOW_OBJECTS, *ADMIN_OBJECTS)


@blp.route(f"/audit/<any({','.join(OBJECT_TYPES)}):object_type>/<{ID}:ident>")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(AuditOut, "AuditPage"))
@blp.doc(summary="Who changed the object, when, from which state to which, and why")
def trail(args: dict[str, Any], object_type: str, ident: int) -> Any:
    session = db.session()
    user = actor()
    if object_type == "project":
        get_project(session, user, ident)
    elif object_type == "kpi":
        kpi = session.get(Kpi, ident)
        if kpi is None or not can_see_kpi(session, user, kpi):
            raise missing(object_type, ident)
    elif object_type in WORKFLOW_OBJECTS:
        get_visible(session, user, object_type, ident)
    elif not _manages(session, user, object_type, ident):
        raise missing(object_type, ident)
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == ident)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.occurred_at, AuditEntry.id)
    )
    return paginate(session, stmt, args)


@blp.route("/audit-export")
@blp.arguments(AuditExportArgs, location="query")
@blp.response(
    200,
    content_type="text/csv",
    description="CSV (or XLSX with format=xlsx) of the unit's audit entries in chain order,"
    " each with its previous hash and hash (docs/audit-chain.md)",
)
@blp.doc(summary="A unit's audit trail over a range of days, with its hash chain")
def export(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    unit = session.get(OrgUnit, args["unit_id"])
    if unit is None or not may_export_trail(session, user, unit):
        raise missing("org_unit", args["unit_id"])
    first, last = default_range()
    first, last = args.get("from_") or first, args.get("to") or last
    if last < first:
        raise Refused(
            422, _("the last day is before the first"), fields={"to": _("must not be before from")}
        )
    whole = exports_whole_service(session, user, unit)
    asked = TrailRequest(unit, first, last, args["format"], whole)
    return trail_download(session, asked)


def _manages(session: Session, caller: User, object_type: str, ident: int) -> bool:
    """An account's trail for the admins who manage it; a delegation's for those who manage
    its principal (service.core.permissions.manages_user)."""
    if object_type == "user":
        person = session.get(User, ident)
    else:
        delegation = session.get(Delegation, ident)
        person = delegation.principal if delegation is not None else None
    return person is not None and manages_user(session, caller, person)
