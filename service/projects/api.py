"""/api/v1/projects: projects, their plan steps, progress reports and KPIs."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import Presented, page_of
from service.api.scoping import get_project, get_unit, in_subtree, project_overdue
from service.api.transitions import ID, add_transition_routes, expected_version
from service.core.fiscal import local_today
from service.core.labels import object_type_label
from service.core.translate import gettext as _
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, kpi_project
from service.kpis.schemas import KpiOut
from service.org.scope import sees_everything
from service.projects import operations
from service.projects.models import PlanStep, ProgressReport, Project, ResultState
from service.projects.queries import project_progress, visible_projects
from service.projects.schemas import (
    ProjectCreate,
    ProjectDetailOut,
    ProjectFilter,
    ProjectOut,
    ProjectUpdate,
    ReportInput,
    ReportOut,
    StepFilter,
    StepInput,
    StepOut,
)
from service.workflow.engine import Refused

blp = Blueprint("api_projects", __name__, url_prefix="/api/v1", description="Projects and plans")


def fiscal_year(session: Session, be_year: int, field: str = "fiscal_year") -> FiscalYear:
    year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if year is None:
        raise Refused(
            422,
            _(
                "%(object)s %(id)s does not exist",
                object=object_type_label("fiscal_year"),
                id=be_year,
            ),
            fields={field: _("no such fiscal year")},
        )
    return year


def present_project(session: Session, project: Project) -> Presented:
    return Presented(project, progress=project_progress(session, project.id))


def present_step(step: PlanStep, today: date) -> Presented:
    results = step.results
    settled = bool(results) and all(r.state is ResultState.ACCEPTED for r in results)
    return Presented(step, overdue=step.planned_end < today and not settled)


@blp.route("/projects")
@blp.arguments(ProjectFilter, location="query")
@blp.response(200, page_of(ProjectOut, "ProjectPage"))
@blp.doc(summary="Projects the caller may see, filtered, a page at a time")
def list_projects(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    year_id = None
    if "fiscal_year" in args:
        # A year with no row lists nothing (a filter, not a reference to resolve).
        found = session.scalar(
            select(FiscalYear.id).where(FiscalYear.be_year == args["fiscal_year"])
        )
        year_id = found if found is not None else 0
    stmt = (
        select(Project)
        .where(visible_projects(session, user, year_id, read_first=True))
        .options(joinedload(Project.fiscal_year))
        .order_by(Project.code, Project.id)
    )
    if "unit" in args:
        stmt = stmt.where(
            in_subtree(session, args["unit"], Project.owner_unit_id)
            | in_subtree(session, args["unit"], Project.responsible_unit_id)
        )
    if "state" in args:
        stmt = stmt.where(Project.state == args["state"])
    if "code" in args:
        stmt = stmt.where(Project.code == args["code"])
    if "overdue" in args:
        overdue = project_overdue(local_today())
        stmt = stmt.where(overdue if args["overdue"] else ~overdue)
    # Tree-wide readers list the country: the page comes off the code index, counted apart.
    return paginate(session, stmt, args, capped=sees_everything(session, user))


@blp.route("/projects", methods=["POST"])
@blp.arguments(ProjectCreate)
@blp.response(201, ProjectDetailOut)
@blp.doc(summary="Register a draft project (district officers and approvers)")
@commits
def create_project(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    texts = {
        k: data[k]
        for k in ("rationale", "contact_name", "contact_phone", "unit_codes")
        if k in data
    }
    project = operations.create_project(
        session,
        user,
        code=data["code"],
        name=data["name"],
        fiscal_year=fiscal_year(session, data["fiscal_year"]),
        owner_unit=get_unit(session, data["owner_unit_id"], "owner_unit_id", user=user),
        responsible_unit=get_unit(
            session, data["responsible_unit_id"], "responsible_unit_id", user=user
        ),
        kind=data["kind"],
        approved_budget=data["approved_budget"],
        **texts,
    )
    return present_project(session, project)


@blp.route(f"/projects/<{ID}:ident>")
@blp.response(200, ProjectDetailOut)
@blp.doc(summary="One project with its texts and derived progress")
def get_one(ident: int) -> Any:
    session = db.session()
    return present_project(session, get_project(session, actor(), ident))


@blp.route(f"/projects/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(ProjectUpdate)
@blp.response(200, ProjectDetailOut)
@blp.doc(summary="Change a draft project's texts, flags or budget (If-Match: version)")
@commits
def update(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    # Locked and read afresh: two edits from one version meet here, and the later is told
    # who changed it, not a server error when both try to write.
    project = operations.hold_unchanged(
        session, get_project(session, user, ident), expected_version(), on_page=False
    )
    operations.update_project(session, user, project, data)
    return present_project(session, project)


@blp.route(f"/projects/<{ID}:ident>/steps")
@blp.arguments(StepFilter, location="query")
@blp.response(200, StepOut(many=True))
@blp.doc(summary="The plan's steps in order; overdue=true for those past due")
def list_steps(args: dict[str, Any], ident: int) -> Any:
    session = db.session()
    project = get_project(session, actor(), ident)
    steps = session.scalars(
        select(PlanStep)
        .where(PlanStep.project_id == project.id)
        .options(selectinload(PlanStep.results))
        .order_by(PlanStep.position)
    ).all()
    today = local_today()
    shown = [present_step(step, today) for step in steps]
    if "overdue" in args:
        shown = [step for step in shown if step.overdue == args["overdue"]]
    return shown


@blp.route(f"/projects/<{ID}:ident>/steps", methods=["POST"])
@blp.arguments(StepInput)
@blp.response(201, StepOut)
@blp.doc(summary="Add the step at `position`, or change it (draft plans only)")
@commits
def save_step(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    project = get_project(session, user, ident)
    unit_id = data.pop("responsible_unit_id")
    step = operations.save_step(
        session,
        user,
        project,
        responsible_unit=get_unit(session, unit_id, "responsible_unit_id") if unit_id else None,
        **data,
    )
    return present_step(step, local_today())


@blp.route(f"/projects/<{ID}:ident>/reports")
@blp.response(200, ReportOut(many=True))
@blp.doc(summary="The project's dated progress reports")
def list_reports(ident: int) -> Any:
    session = db.session()
    project = get_project(session, actor(), ident)
    return session.scalars(
        select(ProgressReport)
        .where(ProgressReport.project_id == project.id, ProgressReport.withdrawn_at.is_(None))
        .order_by(ProgressReport.reported_on, ProgressReport.id)
    ).all()


@blp.route(f"/projects/<{ID}:ident>/reports", methods=["POST"])
@blp.arguments(ReportInput)
@blp.response(201, ReportOut)
@blp.doc(summary="Add a dated progress report (the district)")
@commits
def add_report(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    project = get_project(session, user, ident)
    report = operations.add_progress_report(session, user, project, **data)
    return report


@blp.route(f"/projects/<{ID}:ident>/kpis")
@blp.response(200, KpiOut(many=True))
@blp.doc(summary="The KPIs linked to the project, with their quarterly results")
def list_kpis(ident: int) -> Any:
    session = db.session()
    project = get_project(session, actor(), ident)
    return session.scalars(
        select(Kpi)
        .join(kpi_project, kpi_project.c.kpi_id == Kpi.id)
        .where(kpi_project.c.project_id == project.id)
        .options(selectinload(Kpi.results))
        .order_by(Kpi.code)
    ).all()


add_transition_routes(
    blp, workflow="project", path="projects", out_schema=ProjectDetailOut, present=present_project
)
