"""/audit/export: a unit's audit trail over a range of days, as CSV or XLSX, with its chain."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from service.audit.export import default_range, read_trail_request, trail_download
from service.audit.permissions import trail_units
from service.core.fields import Invalid
from service.workflow.engine import Refused
from service.workflow.screens import actor, session

bp = Blueprint("audit", __name__)


@bp.get("/audit/export")
@login_required
def export() -> Any:
    """Without `format`: the form. With it: the download (404 for a unit out of reach). 403
    for whom no unit's trail is open (a school, an evaluator of no district): the form had an
    empty unit menu and refused every download for want of a unit."""
    units = trail_units(session(), actor())
    if not units:
        abort(403)
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
        units=units,
        # as typed when sent back, else the default days, shown as the reader types them
        first=request.args.get("from") or first,
        last=request.args.get("to") or last,
        chosen=request.args.get("unit_id", ""),
        errors=errors,
    ), (422 if errors else 200)
