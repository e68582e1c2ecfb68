"""/api/v1/evaluations: the quarterly scores of projects and KPIs (สยป.)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from service.api.auth import actor, require_role
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import page_of
from service.api.scoping import get_project, get_visible, visible_evaluations
from service.api.transitions import ID, add_transition_routes
from service.core.translate import gettext as _
from service.evaluations.models import Evaluation
from service.evaluations.operations import open_evaluation
from service.evaluations.schemas import (
    EvaluationCreate,
    EvaluationDetailOut,
    EvaluationFilter,
    EvaluationOut,
)
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.org.models import Role
from service.org.scope import sees_everything
from service.projects.api import fiscal_year
from service.workflow.engine import Refused

blp = Blueprint("api_evaluations", __name__, url_prefix="/api/v1", description="Evaluations")


def _present(_session: Session, evaluation: Evaluation) -> Evaluation:
    return evaluation


@blp.route("/evaluations")
@blp.arguments(EvaluationFilter, location="query")
@blp.response(200, page_of(EvaluationOut, "EvaluationPage"))
@blp.doc(summary="Evaluations the caller may see, filtered, a page at a time")
def list_evaluations(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    stmt = (
        select(Evaluation)
        .where(visible_evaluations(session, user))
        .options(joinedload(Evaluation.fiscal_year))
        .order_by(Evaluation.id)
    )
    if "fiscal_year" in args:
        stmt = stmt.where(
            Evaluation.fiscal_year_id.in_(
                select(FiscalYear.id).where(FiscalYear.be_year == args["fiscal_year"])
            )
        )
    if "quarter" in args:
        stmt = stmt.where(Evaluation.quarter == args["quarter"])
    if "state" in args:
        stmt = stmt.where(Evaluation.state == args["state"])
    if "project" in args:
        stmt = stmt.where(Evaluation.project_id == args["project"])
    return paginate(session, stmt, args, capped=sees_everything(session, user))


@blp.route("/evaluations", methods=["POST"])
@blp.arguments(EvaluationCreate)
@blp.response(201, EvaluationDetailOut)
@blp.doc(summary="Open the quarter's evaluation of a project or KPI (evaluators; idempotent)")
@commits
def open_one(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    require_role(session, user, Role.EVALUATOR, _("open evaluations"))
    year = fiscal_year(session, data["fiscal_year"])
    project = kpi = None
    if "project_id" in data:
        try:
            project = get_project(session, user, data["project_id"])
        except Refused:
            raise Refused(
                422, _("no such project"), fields={"project_id": _("no such project")}
            ) from None
    else:
        kpi = session.get(Kpi, data["kpi_id"])
        if kpi is None:
            raise Refused(422, _("no such KPI"), fields={"kpi_id": _("no such KPI")})
    evaluation = open_evaluation(session, user, year, data["quarter"], project=project, kpi=kpi)
    return evaluation


@blp.route(f"/evaluations/<{ID}:ident>")
@blp.response(200, EvaluationDetailOut)
@blp.doc(summary="One evaluation with the history of its reopened scores")
def get_one(ident: int) -> Any:
    session = db.session()
    evaluation = get_visible(session, actor(), "evaluation", ident)
    session.scalars(
        select(Evaluation)
        .where(Evaluation.id == evaluation.id)
        .options(selectinload(Evaluation.revisions))
    ).all()
    return evaluation


add_transition_routes(
    blp,
    workflow="evaluation",
    path="evaluations",
    out_schema=EvaluationDetailOut,
    present=_present,
)
