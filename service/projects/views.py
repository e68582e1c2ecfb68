"""The project page `/projects/<id>`, its A4 print view and its PDF, for signed-in readers
whose scope holds the project (anyone else gets a 404: the page does not say it exists)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup, escape

from service.audit.models import AuditEntry
from service.budget.queries import curve_points
from service.core.charts import (
    STATUS_COLOURS,
    Gauge,
    MoneyPoint,
    SCurve,
    Timeline,
    chart_span,
    gauge,
    money_curve_chart,
    s_curve_chart,
    timeline_chart,
)
from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fiscal import local_today
from service.core.labels import action_label, object_type_label
from service.core.presentation import be_datetime
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language
from service.evaluations.permissions import sees_unpublished_scores
from service.extensions import db
from service.org import acting
from service.org.models import User
from service.projects.models import Project
from service.projects.page import ProjectPage, build_project_page, load_project
from service.projects.queries import sees_project
from service.workflow import engine
from service.workflow.engine import Option

bp = Blueprint("projects", __name__)


def visible_project_or_404(project_id: int) -> Project:
    """The project, if the signed-in user's scope holds it; 404 otherwise."""
    session = db.session()
    user = signed_in_reader()
    found = load_project(session, project_id)
    if found is None or not sees_project(session, user, found[0]):
        abort(404)
    return found[0]


@dataclass(frozen=True)
class PageCharts:
    """The page's charts; the S-curve and timeline twice: wide, and narrow for phones."""

    gauge: Gauge
    s_curve: SCurve
    s_curve_narrow: SCurve
    timeline: Timeline
    timeline_narrow: Timeline
    #: The monthly disbursement curve against the plan (money paid, money planned).
    money: SCurve | None = None
    money_narrow: SCurve | None = None
    money_points: list[MoneyPoint] = field(default_factory=list)


def page_for(
    project: Project, full_history: bool = True, reader: User | None = None
) -> ProjectPage:
    """The page of `project` as `reader` sees it (None: the public, who see published
    evaluation scores only)."""
    session = db.session()
    return build_project_page(
        session,
        project,
        local_today(),
        datetime.now(UTC),
        full_history=full_history,
        unpublished_shown=sees_unpublished_scores(session, reader, project.responsible_unit),
    )


def signed_in_reader() -> User:
    """The reader whose scope the page uses: the signed-in user, or whom they act for."""
    user = acting.authority(db.session())
    if user is None:  # pragma: no cover - behind login_required
        abort(401)
    return user


def charts_for(page: ProjectPage) -> PageCharts:
    """The page's gauge, S-curve and timeline, labelled in the reader's language."""
    lang = current_language()
    plans = [row.plan for row in page.steps]
    year = page.project.fiscal_year
    span = chart_span(year.starts_on, year.ends_on, plans)
    reports = [(r.report.reported_on, r.report.percent) for r in page.reports]
    bars = [(row.step.position, row.plan, row.status) for row in page.steps]
    events = page.progress_events
    budget = page.project.approved_budget
    points = curve_points([(budget, plans)], page.budget.payments, span, page.today)
    return PageCharts(
        gauge=gauge(page.actual, page.planned),
        s_curve=s_curve_chart(plans, events, reports, span, page.today, lang),
        s_curve_narrow=s_curve_chart(plans, events, reports, span, page.today, lang, True),
        timeline=timeline_chart(bars, span, page.today, lang),
        timeline_narrow=timeline_chart(bars, span, page.today, lang, True),
        money=money_curve_chart(points, budget, span, page.today, lang),
        money_narrow=money_curve_chart(points, budget, span, page.today, lang, True),
        money_points=points,
    )


def render_project(
    template: str, project: Project, public: bool, full_history: bool = True, pdf: bool = False
) -> str:
    """`template` (the page, the public page, the print view or the history) for
    `project`; the pages themselves (not `full_history`) link to the history instead.
    The public ones (`public`) show what anyone may see, whoever is signed in. `pdf`: the
    print view is for WeasyPrint, which reads media types only (no phone-width rules)."""
    page = page_for(project, full_history, reader=None if public else signed_in_reader())
    return render_template(
        template,
        page=page,
        page_charts=charts_for(page),
        public=public,
        status_colours=STATUS_COLOURS,
        pdf=pdf,
    )


def pdf_response(html: str, filename: str) -> Response:
    """The print view as a PDF download (WeasyPrint, fonts and styles from this server only)."""
    from service.core.pdf import html_to_pdf

    pdf = html_to_pdf(html, current_app.static_folder or "static")
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.pdf"'
    return response


@dataclass(frozen=True)
class Work:
    """What the reader may do from the page: the project's transitions (allowed, or refused
    with the reason), whether they may edit the plan, and the step results they report."""

    workflow: str
    options: list[Option]
    may_edit: bool
    reportable: frozenset[int]


def work_for(page: ProjectPage) -> Work:
    from service.projects.permissions import may_edit_plan, may_report_result

    session = db.session()
    user = signed_in_reader()
    project = page.project
    engine.load_workflows()
    return Work(
        workflow=engine.workflow_for(project).name,
        options=engine.options(
            session, acting.signed_in() or user, project, acting_for=acting.acting_for(session)
        ),
        may_edit=bool(may_edit_plan(session, user, project)),
        reportable=frozenset(
            result.id
            for row in page.steps
            for result in row.results
            if may_report_result(session, user, result)
        ),
    )


@bp.route("/projects/<int:project_id>")
@login_required
def page(project_id: int) -> ResponseReturnValue:
    parts = _parts(project_id)
    if parts is None:
        abort(404)
    # The project's thread under the page (the session has the project loaded already).
    project = db.session.get(Project, project_id)
    return render_template(
        "projects/page.html", title=parts["title"], body=parts["body"], project=project
    )


def _parts(project_id: int) -> dict[str, Markup] | None:
    """The project page's title and its body below the menu (everything it shows and what
    the reader may do); None when the reader may not see the project."""
    session = db.session()
    found = load_project(session, project_id, history_count=True)
    reader = signed_in_reader()
    if found is None or not sees_project(session, reader, found[0]):
        return None
    project, history_count = found
    # The page shows the responsible unit anyway: asking about it here costs no statement.
    unpublished = sees_unpublished_scores(session, reader, project.responsible_unit)
    shown = build_project_page(
        session,
        project,
        local_today(),
        datetime.now(UTC),
        full_history=False,
        unpublished_shown=unpublished,
        history_count=history_count,
    )
    body = Markup(  # a template's output: escaped as it was rendered
        render_template(
            "projects/_page.html",
            page=shown,
            page_charts=charts_for(shown),
            public=False,
            status_colours=STATUS_COLOURS,
            work=work_for(shown),
        )
    )
    return {"title": escape(f"{project.code} {project.name}"), "body": body}


@bp.route("/projects/<int:project_id>/history")
@login_required
def history(project_id: int) -> ResponseReturnValue:
    """Every state of the project, its results, budget and evaluations, and the audit trail;
    `?format=csv|xlsx` downloads the audit trail (every entry the page lists)."""
    project = visible_project_or_404(project_id)
    fmt = request.args.get("format")
    if fmt is not None and fmt not in FORMATS:
        abort(404)
    page = page_for(project, reader=signed_in_reader())
    if fmt is not None:
        ids = [entry.id for entry in page.audit_entries]
        rows = rows_in_chunks(ids, _audit_rows)
        return download(fmt, f"history-{project.code}", AUDIT_COLUMNS, rows, _("Audit trail"))
    return render_template(
        "projects/history.html",
        page=page,
        public=False,
        export_url=lambda fmt: url_for("projects.history", project_id=project_id, format=fmt),
    )


def _audit_rows(session: Any, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """The exported values of the audit entries `ids`, in that order (read in `session`)."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from service.workflow.registry import state_label

    found = {
        e.id: e
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id.in_(ids))
            .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.acting_for))
        )
    }
    rows = []
    for entry in (found[i] for i in ids if i in found):
        who = entry.actor.name if entry.actor else _("the system")
        if entry.acting_for:
            who += f" {_('for %(name)s', name=entry.acting_for.name)}"
        change = ""
        if entry.to_state:
            before = state_label(entry.object_type, entry.from_state) or "—"
            change = f"{before} → {state_label(entry.object_type, entry.to_state)}"
        rows.append(
            (
                be_datetime(entry.occurred_at),
                who,
                f"{object_type_label(entry.object_type)} #{entry.object_id}",
                action_label(entry.action),
                change,
                entry.reason,
            )
        )
    return rows


AUDIT_COLUMNS = (
    Column(_l("When"), lambda r: r[0], width=20),
    Column(_l("Who"), lambda r: r[1], width=28),
    Column(_l("Item"), lambda r: r[2], width=24),
    Column(_l("Action"), lambda r: r[3], width=28),
    Column(_l("Change"), lambda r: r[4], width=32),
    Column(_l("Reason"), lambda r: r[5], width=40),
)


@bp.route("/projects/<int:project_id>/print")
@login_required
def print_view(project_id: int) -> ResponseReturnValue:
    project = visible_project_or_404(project_id)
    return render_project("projects/print.html", project, public=False)


@bp.route("/projects/<int:project_id>.pdf")
@login_required
def pdf(project_id: int) -> ResponseReturnValue:
    project = visible_project_or_404(project_id)
    html = render_project("projects/print.html", project, public=False, pdf=True)
    return pdf_response(html, f"project-{project.code}")
