"""The evaluator's quarter: every project and KPI of a fiscal year in one queue, scored with the
two sub-scores and a comment, published, reopened with a reason; and a KPI's Q1–Q4 table with
the evaluation fractions as the legacy page shows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload
from werkzeug.wrappers import Response

from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import BeYear, Count, FormId, Invalid, drawn_version, value_of
from service.core.fiscal import fiscal_year_of, local_today, quarter_bounds, quarter_of
from service.core.labels import label
from service.core.paging import Paged, page_number, paged
from service.core.permissions import holds_anywhere
from service.core.sql import matches_text
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.evaluations.models import Evaluation, EvaluationState
from service.evaluations.operations import open_evaluation
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.org.models import OrgUnit, Role, UnitKind, User
from service.projects.models import Project, ProjectState
from service.workflow.engine import Option, Refused
from service.workflow.screens import actor, gate, options_for, run_change, session, take

bp = Blueprint("evaluations", __name__)

SCORE_FIELDS = ("score", "sub_score_1", "sub_score_2", "comment")

#: Why a score from a page drawn before someone else's score is refused (409): the page
#: comes back with that score shown and the input kept.
SCORED_MEANWHILE = _l(
    "someone saved a score while your page was open: it is shown above; press save again "
    "to replace it with yours"
)
SCORED_MEANWHILE_FIELD = _l("scored meanwhile: check the score shown above")


#: Units an evaluator narrows the queue to: district offices and departments.
EVALUATED_UNIT_KINDS = (UnitKind.DISTRICT_OFFICE, UnitKind.DEPARTMENT)


@dataclass
class Subject:
    kind: str  # "project" or "kpi"
    obj: Project | Kpi
    evaluation: Evaluation | None
    options: list[Option]

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.obj.id}"

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


def _is_evaluator(db_session: Session, user: User) -> bool:
    return holds_anywhere(db_session, user, Role.EVALUATOR)


evaluators = gate(_is_evaluator)


def _subscore_labels() -> tuple[str, str]:
    first, second = tuple(current_app.config.get("EVALUATION_SUBSCORE_LABELS") or ("2.1", "2.2"))
    return first.strip(), second.strip()


def _year_and_quarter() -> tuple[FiscalYear, int]:
    today = local_today()
    try:
        be_year = value_of(BeYear(), request.values, "year") or fiscal_year_of(today)
        asked = value_of(Count(4), request.values, "quarter")
        quarter = quarter_of(today) if asked is None else asked  # quarter=0 is no quarter
    except Invalid:
        abort(404)
    if quarter not in (1, 2, 3, 4):
        abort(404)
    year = session().scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if year is None and request.values.get("year"):
        # a year asked for by name that does not exist: not another year's page under it
        # (2571 showed 2570's quarter 1 open for scoring)
        abort(404)
    if year is None:
        year = session().scalar(select(FiscalYear).order_by(FiscalYear.be_year.desc()))
    if year is None:
        abort(404)
    return year, quarter


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows: projects or KPIs, under which unit, matching which text."""

    kind: str = "project"
    unit: OrgUnit | None = None
    q: str = ""
    page: int = 1


def _filters() -> QueueFilters:
    # A scoring form posts its subject's type: a refused score comes back on its own list.
    kind = request.values.get("kind") or request.values.get("subject_type") or "project"
    code = request.values.get("unit", "")
    unit = session().scalar(select(OrgUnit).where(OrgUnit.code == code)) if code else None
    if code and unit is None:
        abort(404)
    return QueueFilters(
        kind=kind if kind in ("project", "kpi") else "project",
        unit=unit,
        q=request.values.get("q", "")[:200].strip(),
        page=page_number(request.values.get("page")),
    )


def _subject_query(year: FiscalYear, filters: QueueFilters) -> Any:
    """The quarter's subjects (projects not drafts or withdrawn, or KPIs) under the filters,
    by code."""
    model: type[Project] | type[Kpi] = Project if filters.kind == "project" else Kpi
    statement: Any = (
        select(model).where(model.fiscal_year_id == year.id).order_by(model.code, model.id)
    )
    if model is Project:
        statement = statement.where(
            Project.state.not_in((ProjectState.DRAFT, ProjectState.WITHDRAWN))
        )
    if filters.unit is not None:
        owner = aliased(OrgUnit)
        owner_column = Project.owner_unit_id if model is Project else Kpi.owner_unit_id
        statement = statement.join(owner, owner.id == owner_column).where(
            owner.path.startswith(filters.unit.path)
        )
    if filters.q:
        statement = statement.where(matches_text(filters.q, model.code, model.name))
    return statement


def _subjects(year: FiscalYear, quarter: int, filters: QueueFilters) -> Paged[Subject]:
    """One page of the quarter's subjects with their evaluations: the whole country's 33,000
    projects a year made one page of 45 MB."""
    model: type[Project] | type[Kpi] = Project if filters.kind == "project" else Kpi
    page = paged(
        session(), _subject_query(year, filters), filters.page, after=request.args.get("after")
    )
    column = Evaluation.project_id if model is Project else Evaluation.kpi_id
    found = {
        (e.project_id or e.kpi_id): e
        for e in session().scalars(
            select(Evaluation)
            .where(
                Evaluation.fiscal_year_id == year.id,
                Evaluation.quarter == quarter,
                column.in_([obj.id for obj in page.rows] or [0]),
            )
            .options(selectinload(Evaluation.revisions))
        )
    }
    subjects = []
    for obj in page.rows:
        evaluation = found.get(obj.id)
        options = options_for(evaluation) if evaluation is not None else []
        subjects.append(Subject(filters.kind, obj, evaluation, options))
    return Paged(
        rows=subjects,
        total=page.total,
        page=page.page,
        pages=page.pages,
        after=page.after,
        next_after=page.next_after,
    )


def _queue_page(
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    year, quarter = _year_and_quarter()
    filters = _filters()
    listing = _subjects(year, quarter, filters)
    query: dict[str, Any] = {
        "year": year.be_year,
        "quarter": quarter,
        "kind": filters.kind,
        "unit": filters.unit.code if filters.unit else "",
        "q": filters.q,
    }
    page = render_template(
        "evaluations/queue.html",
        year=year,
        quarter=quarter,
        # newest first, as the dashboard and the overview offer them
        years=list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc()))),
        subjects=listing.rows,
        listing=listing,
        filters=filters,
        units=list(
            session().scalars(
                select(OrgUnit)
                .where(OrgUnit.kind.in_(EVALUATED_UNIT_KINDS), OrgUnit.withdrawn_at.is_(None))
                .order_by(OrgUnit.code)
            )
        ),
        page_url=lambda number: url_for("evaluations.queue", **query, page=number),
        export_url=lambda fmt: url_for("evaluations.queue", **query, format=fmt),
        labels=_subscore_labels(),
        begins_on=(begins_on := quarter_bounds(year.be_year, quarter)[0]),
        begun=local_today() >= begins_on,
        forms=forms or {},
        errors=errors or {},
    )
    return page, status


def _export_rows(
    db_session: Any, ids: Sequence[int], kind: str, year_id: int, quarter: int
) -> list[tuple[Any, ...]]:
    """The exported values of the subjects `ids` of `kind`, in that order, with the quarter's
    evaluation of each (read in `db_session`)."""
    model: type[Project] | type[Kpi] = Project if kind == "project" else Kpi
    column = Evaluation.project_id if kind == "project" else Evaluation.kpi_id
    objects = {o.id: o for o in db_session.scalars(select(model).where(model.id.in_(ids)))}
    found = {
        (e.project_id or e.kpi_id): e
        for e in db_session.scalars(
            select(Evaluation).where(
                Evaluation.fiscal_year_id == year_id,
                Evaluation.quarter == quarter,
                column.in_(ids),
            )
        )
    }
    rows = []
    for obj in (objects[i] for i in ids if i in objects):
        evaluation = found.get(obj.id)
        rows.append(
            (
                obj.code,
                obj.name,
                label(evaluation.state) if evaluation else "",
                evaluation.score if evaluation else None,
                evaluation.sub_score_1 if evaluation else None,
                evaluation.sub_score_2 if evaluation else None,
                evaluation.comment if evaluation else "",
            )
        )
    return rows


def _export(fmt: str) -> Any:
    """Every subject of the quarter the queue lists under its filters, a chunk at a time."""
    year, quarter = _year_and_quarter()
    filters = _filters()
    model: type[Project] | type[Kpi] = Project if filters.kind == "project" else Kpi
    ids = list(session().scalars(_subject_query(year, filters).with_only_columns(model.id)))
    first, second = _subscore_labels()
    columns = (
        Column(_l("Code"), lambda r: r[0], width=16),
        Column(_l("Project") if filters.kind == "project" else _l("KPI"), lambda r: r[1], width=50),
        Column(_l("State"), lambda r: r[2], width=16),
        Column(_l("Score"), lambda r: r[3], "percent"),
        Column(first, lambda r: r[4], "percent"),
        Column(second, lambda r: r[5], "percent"),
        Column(_l("Comment"), lambda r: r[6], width=40),
    )
    rows = rows_in_chunks(
        ids, lambda s, chunk: _export_rows(s, chunk, filters.kind, year.id, quarter)
    )
    name = f"evaluations-{year.be_year}-q{quarter}-{filters.kind}"
    return download(fmt, name, columns, rows, _("Evaluations"))


@bp.route("/evaluations")
@evaluators
def queue() -> Any:
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            abort(404)
        return _export(fmt)
    return _queue_page()


@bp.route("/evaluations/score", methods=["POST"])
@evaluators
def score() -> Response | tuple[str, int]:
    """Score a subject's quarter (opening its evaluation if it is not yet open)."""
    year, quarter = _year_and_quarter()
    kind = request.form.get("subject_type", "")
    if kind not in ("project", "kpi"):
        abort(400)
    try:
        subject_id = value_of(FormId(required=True), request.form, "subject_id")
    except Invalid:
        abort(404)
    subject: Project | Kpi | None = (
        session().get(Project, subject_id) if kind == "project" else session().get(Kpi, subject_id)
    )
    if subject is None:
        abort(404)
    data = {name: request.form.get(name, "") for name in SCORE_FIELDS}
    key = f"{kind}-{subject_id}"

    read_version = drawn_version(request.form)

    def change() -> Evaluation:
        column = Evaluation.project_id if kind == "project" else Evaluation.kpi_id
        found = session().scalar(
            select(Evaluation).where(
                column == subject_id,
                Evaluation.fiscal_year_id == year.id,
                Evaluation.quarter == quarter,
            )
        )
        # The page showed the evaluation at `read_version` (0: not opened, or no score yet):
        # a score saved since by someone else is not overwritten unseen.
        # A published one is left to the workflow, which says it is published.
        if (
            read_version is not None
            and found is not None
            and found.state is not EvaluationState.PUBLISHED
        ):
            scored_since = read_version == 0 and found.score is not None
            if scored_since or 0 < read_version != found.version:
                raise Refused(409, SCORED_MEANWHILE, fields={"score": SCORED_MEANWHILE_FIELD})
        evaluation = found or open_evaluation(
            session(),
            actor(),
            year,
            quarter,
            project=subject if isinstance(subject, Project) else None,
            kpi=subject if isinstance(subject, Kpi) else None,
        )
        return take("evaluation", evaluation.id, "score", data)

    def again(form: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
        return _queue_page({key: data}, {key: errors}, status)

    filters = _filters()
    kept: dict[str, Any] = {
        "unit": filters.unit.code if filters.unit else None,
        "q": filters.q or None,
    }
    if filters.page > 1:
        kept["page"] = str(filters.page)
    back = (
        url_for("evaluations.queue", year=year.be_year, quarter=quarter, kind=kind, **kept)
        + f"#{key}"
    )
    return run_change(
        change,
        done=_("%(code)s is scored for quarter %(q)s.", code=subject.code, q=quarter),
        back=back,
        again=again,
    )
