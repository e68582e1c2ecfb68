"""/api/v1/results: the step results schools and the district report, and their review."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select, union_all
from sqlalchemy.orm import Session, joinedload

from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import Presented, page_of
from service.api.scoping import get_unit, get_visible, in_subtree, visible_result_branches
from service.api.transitions import ID, add_transition_routes
from service.core.fiscal import local_today
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.org.scope import sees_everything
from service.projects import operations
from service.projects.models import PlanStep, Project, ResultState, StepResult
from service.projects.schemas import AssignInput, ResultFilter, ResultOut
from service.workflow.engine import Refused, missing

blp = Blueprint("api_results", __name__, url_prefix="/api/v1", description="Step results")


def present_result(result: StepResult, today: date) -> Presented:
    overdue = result.due_on < today and result.state is not ResultState.ACCEPTED
    return Presented(result, overdue=overdue)


def _present(_session: Session, result: StepResult) -> Presented:
    return present_result(result, local_today())


@blp.route("/results")
@blp.arguments(ResultFilter, location="query")
@blp.response(200, page_of(ResultOut, "ResultPage"))
@blp.doc(summary="Step results the caller may see, filtered, a page at a time")
def list_results(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    today = local_today()
    filters: list[ColumnElement[bool]] = []
    # Filters on the step read plan_step by index, as a set of step ids: the rows themselves
    # are read and ordered off step_result's own indexes (its copy of the planned end).
    if "fiscal_year" in args:
        year = select(FiscalYear.id).where(FiscalYear.be_year == args["fiscal_year"])
        in_year = select(Project.id).where(Project.fiscal_year_id.in_(year))
        filters.append(
            StepResult.step_id.in_(select(PlanStep.id).where(PlanStep.project_id.in_(in_year)))
        )
    if "project" in args:
        filters.append(
            StepResult.step_id.in_(
                select(PlanStep.id).where(PlanStep.project_id == args["project"])
            )
        )
    if "unit" in args:
        filters.append(in_subtree(session, args["unit"], StepResult.unit_id))
    if "state" in args:
        filters.append(StepResult.state == args["state"])
    if "overdue" in args:
        overdue = (StepResult.due_on < today) & (StepResult.state != ResultState.ACCEPTED)
        filters.append(overdue if args["overdue"] else ~overdue)
    # Narrow rows first (id and sort key per branch), the page's results loaded by id after.
    branches = [
        select(StepResult.id.label("id"), StepResult.due_on.label("due_on")).where(branch, *filters)
        for branch in visible_result_branches(session, user)
    ]
    counted = None
    tree_wide = sees_everything(session, user)
    if tree_wide:
        # Tree-wide (evaluators, admins): ordered straight off step_result's own index.
        statement = branches[0].order_by(StepResult.due_on, StepResult.id)
    else:
        # A scope's rows read whole, then ordered: walking the country's results in due order
        # for those of a school's five units read 24,000 rows to find 11 (21 ms), where its
        # 4,000 read by unit and sorted take 2 ms.
        rows = branches[0] if len(branches) == 1 else union_all(*branches)
        visible = rows.cte("visible").prefix_with("MATERIALIZED")
        statement = select(visible.c.id).order_by(visible.c.due_on, visible.c.id)
        # Counted off the unit index alone, without the rows' due dates.
        counted = select(rows.subquery().c.id)
    page = paginate(session, statement, args, capped=tree_wide, counted=counted)
    loaded = {
        result.id: result
        for result in session.scalars(
            select(StepResult)
            .where(StepResult.id.in_(page["items"]))
            .options(joinedload(StepResult.step))
        )
    }
    page["items"] = [present_result(loaded[ident], today) for ident in page["items"]]
    return page


@blp.route(f"/results/<{ID}:ident>")
@blp.response(200, ResultOut)
@blp.doc(summary="One step result")
def get_one(ident: int) -> Any:
    session = db.session()
    return _present(session, get_visible(session, actor(), "step_result", ident))


@blp.route(f"/steps/<{ID}:ident>/results", methods=["POST"])
@blp.arguments(AssignInput)
@blp.response(201, ResultOut)
@blp.doc(summary="Make a unit report on the step (idempotent)")
@commits
def assign(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    step = session.get(PlanStep, ident)
    try:
        get_visible(session, user, "project", step.project_id if step else 0)
    except Refused:
        raise missing("plan_step", ident) from None
    assert step is not None
    unit = get_unit(session, data["unit_id"], "unit_id", within=step.project.owner_unit)
    result = operations.assign_result(session, user, step, unit)
    return _present(session, result)


add_transition_routes(
    blp, workflow="step_result", path="results", out_schema=ResultOut, present=_present
)
