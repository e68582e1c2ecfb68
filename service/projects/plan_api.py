"""/api/v1/plan-imports: the annual plan from a spreadsheet, as the /plan-import page does it.
Download the template; send a filled file and get its preview (what will be created, updated
or left alone, and every problem with its sheet, row and column in the reader's language) with
an id; confirm the id and the file is read again and applied, all of it or nothing. The id is
the page's own token: a preview made here may be confirmed on the page and the other way."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import fields
from sqlalchemy.orm import Session

from service.api.auth import actor
from service.api.blueprint import Blueprint, commit_then
from service.api.schemas import Input, Output
from service.core.permissions import holds_anywhere
from service.core.translate import gettext as _
from service.extensions import db
from service.org.models import Role, User
from service.projects.annual_plan import Preview, apply_plan, read_plan
from service.projects.plan_views import XLSX, held, hold, template_download
from service.workflow.engine import Refused

blp = Blueprint(
    "api_plan_imports",
    __name__,
    url_prefix="/api/v1",
    description="The annual plan from a spreadsheet: template, preview, confirmation",
)

PREVIEW_ID = "string(length=32):preview_id"


class PlanFile(Input):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class PlanProblemOut(Output):
    sheet = fields.String(metadata={"description": "the sheet's name in the file (Thai)"})
    sheet_label = fields.String(
        metadata={"description": "the sheet's name in the reader's language"}
    )
    row = fields.Integer(metadata={"description": "the row number as the spreadsheet shows it"})
    column = fields.String(metadata={"description": "the column letter"})
    header = fields.String(metadata={"description": "the column's header in the template"})
    message = fields.String(metadata={"description": "what is wrong, in the reader's language"})


class PlanChangeOut(Output):
    code = fields.String()
    name = fields.String()
    fiscal_year = fields.Integer()
    budget = fields.String(metadata={"description": "decimal string, baht"})
    steps = fields.Integer(metadata={"description": "the number of steps the file gives"})
    action = fields.String(
        metadata={"description": "create, update (a draft), unchanged, locked (left alone)"}
    )
    project_id = fields.Integer(allow_none=True)
    changed = fields.List(fields.String(), metadata={"description": "what an update changes"})


class PlanCountsOut(Output):
    create = fields.Integer()
    update = fields.Integer()
    unchanged = fields.Integer()
    locked = fields.Integer()


class PlanPreviewOut(Output):
    id = fields.String(
        allow_none=True,
        metadata={
            "description": "confirm with POST /plan-imports/{id}; null when there are problems"
        },
    )
    ok = fields.Boolean(metadata={"description": "no problems: the file may be confirmed"})
    rows = fields.Integer(metadata={"description": "rows read (projects, steps, texts)"})
    counts = fields.Nested(PlanCountsOut)
    changes = fields.List(fields.Nested(PlanChangeOut))
    problems = fields.List(fields.Nested(PlanProblemOut))


class PlanImportedOut(Output):
    counts = fields.Nested(PlanCountsOut)
    changes = fields.List(fields.Nested(PlanChangeOut))


ACTIONS = ("create", "update", "unchanged", "locked")


def _require(session: Session, user: User) -> None:
    if not any(holds_anywhere(session, user, r) for r in (Role.OFFICER, Role.APPROVER)):
        raise Refused(403, _("only district officers and approvers import annual plans"))


def _changes(preview: Preview) -> list[dict[str, Any]]:
    return [
        {
            "code": c.plan.code,
            "name": c.plan.name,
            "fiscal_year": c.plan.be_year,
            "budget": f"{c.plan.budget:.2f}",
            "steps": len(c.plan.steps),
            "action": c.action,
            "project_id": c.project.id if c.project is not None else None,
            "changed": c.changed,
        }
        for c in preview.changes
    ]


def _counts(preview: Preview) -> dict[str, int]:
    return {action: preview.count(action) for action in ACTIONS}


@blp.route("/plan-imports/template.xlsx")
@blp.response(200, {"format": "binary", "type": "string"}, content_type=XLSX)
@blp.doc(summary="The XLSX template: Thai headers, an example project, drop-down lists")
def template() -> Any:
    session = db.session()
    user = actor()
    _require(session, user)
    return template_download(session, user)


@blp.route("/plan-imports", methods=["POST"])
@blp.arguments(PlanFile, location="files")
@blp.response(200, PlanPreviewOut)
@blp.doc(
    summary="Read a filled-in plan (multipart, field `file`) into a preview: nothing is written",
    description="Every problem is named by sheet, row and column in the reader's language;"
    " `id` (null when there are problems) is confirmed with POST /plan-imports/{id}.",
)
def preview(_files: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    _require(session, user)
    data = request.files["file"].read()
    if not data:
        message = _("choose an XLSX file")
        raise Refused(422, message, fields={"file": message})
    found = read_plan(session, user, data)
    session.rollback()  # reading writes nothing; leave no transaction open
    return {
        "id": hold(user.id, data) if found.ok else None,
        "ok": found.ok,
        "rows": found.rows,
        "counts": _counts(found),
        "changes": _changes(found),
        "problems": [
            {
                "sheet": p.sheet,
                "sheet_label": p.sheet_label,
                "row": p.row,
                "column": p.column,
                "header": p.header,
                "message": p.message,
            }
            for p in found.problems
        ],
    }


@blp.route(f"/plan-imports/<{PREVIEW_ID}>", methods=["POST"])
@blp.response(200, PlanImportedOut)
@blp.doc(
    summary="Confirm a preview: the file is read again and applied, all of it or nothing",
    description="404 for an id that is not the caller's or was confirmed already; 422 when the"
    " file has problems now (something changed since the preview: preview it again).",
)
def confirm(preview_id: str) -> Any:
    session = db.session()
    user = actor()
    _require(session, user)
    path = held(user.id, preview_id)
    if path is None:
        raise Refused(404, _("there is no plan preview %(id)s of yours", id=preview_id))
    found = read_plan(session, user, path.read_bytes())
    if not found.ok:
        session.rollback()
        first = found.problems[0]
        raise Refused(
            422,
            _(
                "the file has %(count)s problems now (first: %(sheet)s row %(row)s: %(message)s);"
                " preview it again",
                count=len(found.problems),
                sheet=first.sheet_label,
                row=first.row,
                message=first.message,
            ),
        )
    apply_plan(session, user, found)  # a Refused rolls all of it back (the request's end)
    commit_then(lambda: path.unlink(missing_ok=True))
    return {"counts": _counts(found), "changes": _changes(found)}
