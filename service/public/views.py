"""The public, read-only view (no login), for transparency: the list of registered projects
`/public/projects?year=&unit=&q=` and each project's page and print view.

It shows what the legacy public page shows and Tidtam's derived figures, and no personal
data beyond the contact person the legacy page carries: no user names, emails or phone
numbers of the people who approved, reviewed, evaluated or changed anything. Drafts and
withdrawn projects are not public. There is no public PDF: rendering one costs the server a
second of work that anonymous callers could ask for in bulk; the print view prints to PDF
from the browser.
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from service.core.export import FORMATS, download, rows_in_chunks
from service.core.fiscal import local_today
from service.core.translate import gettext as _
from service.dashboard import queries
from service.dashboard.views import (
    export_url,
    listing_columns,
    page_url,
    read_filters,
    sort_links,
)
from service.extensions import db
from service.projects.models import Project
from service.projects.views import page_for, render_project

bp = Blueprint("public", __name__, url_prefix="/public")


def public_project_or_404(project_id: int) -> Project:
    project = db.session.scalar(
        select(Project).where(Project.id == project_id, Project.state.in_(queries.PUBLIC_STATES))
    )
    if project is None:
        abort(404)
    return project


@bp.route("/projects")
def project_list() -> ResponseReturnValue:
    session = db.session()
    today = local_today()
    years = queries.fiscal_years(session)
    filters = read_filters(session, None, request.args, today, years)
    fmt = request.args.get("format")
    if fmt is not None and fmt not in FORMATS:
        abort(404)
    if filters is not None and fmt is not None:
        ids = queries.export_ids(session, None, filters, today, public_only=True)
        rows = rows_in_chunks(ids, partial(queries.rows_of, filters=filters, day=today))
        name = f"projects-{filters.year.be_year}"
        return download(fmt, name, listing_columns(True), rows, _("Projects"))
    listing = (
        queries.project_listing(session, None, filters, today, public_only=True)
        if filters
        else None
    )
    return render_template(
        "public/list.html",
        filters=filters,
        listing=listing,
        today=today,
        years=years,
        units=queries.filter_units(session, None, filters.unit if filters else None),
        sorts=sort_links(request.args, "public.project_list", filters) if filters else {},
        page_url=lambda page: page_url(request.args, "public.project_list", page),
        export_url=lambda fmt: export_url(request.args, "public.project_list", fmt),
    )


@bp.route("/projects/<int:project_id>")
def project(project_id: int) -> ResponseReturnValue:
    found = public_project_or_404(project_id)
    return render_project("public/project.html", found, public=True, full_history=False)


@bp.route("/projects/<int:project_id>/history")
def project_history(project_id: int) -> ResponseReturnValue:
    found = public_project_or_404(project_id)
    return render_template("projects/history.html", page=page_for(found), public=True)


@bp.route("/projects/<int:project_id>/print")
def project_print(project_id: int) -> ResponseReturnValue:
    found = public_project_or_404(project_id)
    return render_project("projects/print.html", found, public=True)
