"""/plan-import: the annual plan from a spreadsheet. Download the template, upload a filled
file, read the preview (what will be created or updated, every problem with its sheet, row
and column), confirm; nothing is written before the confirmation, and then all or nothing."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.fiscal import fiscal_year_of, local_today
from service.core.permissions import holds_anywhere
from service.core.translate import gettext as _
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, Role, User
from service.org.scope import unit_filter
from service.projects.annual_plan import apply_plan, read_plan, template_bytes
from service.projects.models import Project
from service.projects.queries import projects_seen
from service.workflow.screens import actor, run_change, session

bp = Blueprint("plan_import", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require() -> None:
    if not any(holds_anywhere(session(), actor(), r) for r in (Role.OFFICER, Role.APPROVER)):
        abort(403)


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "plan-imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def hold(user_id: int, data: bytes) -> str:
    """Keep the file `user_id` uploaded until they confirm it; its token (also the API's
    preview id: a preview made in one is confirmed in either)."""
    token = secrets.token_hex(16)
    (_folder() / f"{user_id}-{token}.xlsx").write_bytes(data)
    return token


def held(user_id: int, token: str) -> Path | None:
    """The file `user_id` uploaded under `token`, or None (a token of someone else's is none)."""
    if not token.isalnum() or len(token) > 64:
        return None
    path = _folder() / f"{user_id}-{token}.xlsx"
    return path if path.exists() else None


def _held(token: str) -> Path:
    """The uploaded file waiting for confirmation (404 for a token not of this user)."""
    path = held(actor().id, token)
    if path is None:
        abort(404)
    return path


@bp.get("/plan-import")
@login_required
def start() -> str:
    """The upload form; after a confirmation (`?created=…&updated=…&years=…`, ids and years
    comma-separated), also the projects it made or updated, each linked, where this reader
    sees them: the answer to the confirmation is a page of its own, so a reload sends
    nothing again."""
    _require()
    if not any(key in request.args for key in ("created", "updated")):
        return render_template("editor/plan_import.html", preview=None)
    actions = {
        ident: action
        for action in ("create", "update")
        for ident in _numbers(request.args.get(f"{action}d", ""))
    }
    found = list(session().scalars(select(Project).where(Project.id.in_(list(actions)))))
    seen = projects_seen(session(), actor(), found)
    return render_template(
        "editor/plan_import.html",
        preview=None,
        imported=[
            {"project": p, "action": actions[p.id]}
            for p in sorted(found, key=lambda p: p.code)
            if p.id in seen
        ],
        years=_numbers(request.args.get("years", "")),
    )


def _numbers(text: str) -> list[int]:
    """The numbers of a comma-separated list in a link (at most 1,000; anything else is
    skipped)."""
    return [int(part) for part in text.split(",")[:1000] if part.isdigit() and len(part) < 10]


def template_download(db_session: Session, user: User) -> Response:
    """The template for `user`: the units they see in its drop-downs, this fiscal year (or
    the next one there is) in its example."""
    units = list(
        db_session.scalars(
            select(OrgUnit).where(unit_filter(db_session, user)).order_by(OrgUnit.path)
        )
    )
    year = db_session.scalar(
        select(FiscalYear.be_year)
        .where(FiscalYear.be_year >= fiscal_year_of(local_today()))
        .order_by(FiscalYear.be_year)
    ) or fiscal_year_of(local_today())
    response = Response(template_bytes(db_session, units, year), mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="plan-{year}.xlsx"'
    return response


@bp.get("/plan-import/template.xlsx")
@login_required
def template() -> Response:
    _require()
    return template_download(session(), actor())


@bp.post("/plan-import")
@login_required
def upload() -> Any:
    """Read the file and show what it would do; keep it for the confirmation."""
    _require()
    sent = request.files.get("file")
    data = sent.read() if sent is not None else b""
    if not data:
        flash(_("choose an XLSX file"), "error")
        return render_template("editor/plan_import.html", preview=None), 422
    preview = read_plan(session(), actor(), data)
    session().rollback()  # reading writes nothing; leave no transaction open
    token = ""
    if preview.ok:
        token = hold(actor().id, data)
    return render_template(
        "editor/plan_import.html",
        preview=preview,
        token=token,
        digest=hashlib.sha256(data).hexdigest()[:12],
        filename=sent.filename if sent is not None else "",
    ), (200 if preview.ok else 422)


@bp.post("/plan-import/<token>")
@login_required
def confirm(token: str) -> Any:
    """Apply the file read at upload, read again now: all of it, or nothing."""
    _require()
    path = _held(token)
    preview = read_plan(session(), actor(), path.read_bytes())
    if not preview.ok:
        session().rollback()
        return render_template("editor/plan_import.html", preview=preview, token=""), 422

    def imported(done: dict[str, int]) -> Any:
        path.unlink(missing_ok=True)  # the held file goes once the plan is committed
        flash(
            _(
                "The plan is imported: %(created)s created, %(updated)s updated, %(unchanged)s"
                " unchanged, %(locked)s locked and left alone.",
                created=done.get("create", 0),
                updated=done.get("update", 0),
                unchanged=done.get("unchanged", 0),
                locked=done.get("locked", 0),
            ),
            "info",
        )
        # The page leads on to what was imported (an empty form would lead nowhere), as a
        # page of its own: reloaded, it sends nothing again.
        made = {
            action: ",".join(
                str(c.project.id)
                for c in preview.changes
                if c.action == action and c.project is not None  # apply_plan set it
            )
            for action in ("create", "update")
        }
        return redirect(
            url_for(
                "plan_import.start",
                created=made["create"],
                updated=made["update"],
                years=",".join(str(y) for y in sorted({c.plan.be_year for c in preview.changes})),
            )
            + "#h-imported"
        )

    return run_change(
        lambda: apply_plan(session(), actor(), preview),
        done="",
        back=url_for("plan_import.start"),
        again=lambda **_refused: redirect(url_for("plan_import.start")),
        answer=imported,
        error_pages=(),
        name_fields=True,
    )
