"""/audit/export: a unit's audit trail over a range of days, as CSV or XLSX, with its chain."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import login_required
from sqlalchemy import select

from service.audit.export import default_range, read_trail_request, trail_download
from service.audit.permissions import TRAIL_READERS
from service.core.fields import Invalid
from service.org.models import OrgUnit, UnitKind
from service.org.scope import unit_filter
from service.workflow.engine import Refused
from service.workflow.screens import actor, session

bp = Blueprint("audit", __name__)


def _units() -> list[OrgUnit]:
    """The units whose trail the user may export (district offices and divisions of their
    scope, where the district's records are kept)."""
    from service.core.permissions import holds_any

    user = actor()
    candidates = session().scalars(
        select(OrgUnit)
        .where(
            unit_filter(session(), user),
            OrgUnit.kind.in_(
                (UnitKind.ADMINISTRATION, UnitKind.DISTRICT_OFFICE, UnitKind.DIVISION)
            ),
        )
        .order_by(OrgUnit.path)
    )
    return [u for u in candidates if holds_any(session(), user, TRAIL_READERS, u)]


@bp.get("/audit/export")
@login_required
def export() -> Any:
    """Without `format`: the form. With it: the download (404 for a unit out of reach)."""
    errors: dict[str, str] = {}
    if "format" in request.args:
        try:
            asked = read_trail_request(session(), actor(), request.args)
        except Invalid as invalid:
            errors[invalid.name] = invalid.message
        except Refused:
            abort(404)
        else:
            return trail_download(session(), asked)
    first, last = default_range()
    return render_template(
        "audit/export.html",
        units=_units(),
        # as typed when sent back, else the default days, shown as the reader types them
        first=request.args.get("from") or first,
        last=request.args.get("to") or last,
        chosen=request.args.get("unit_id", ""),
        errors=errors,
    ), (422 if errors else 200)
