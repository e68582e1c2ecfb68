"""Rollups on demand: an admin starts the computation of a fiscal year's quarter, and any
signed-in page can poll the task's progress (JSON). And the views people read: a unit with its
children and the projects furthest behind, the strategy tree, each with charts and exports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from service.core.charts import bar_chart
from service.core.export import FORMATS, Column, download
from service.core.fields import BeYear, Count, Invalid, value_of
from service.core.fiscal import local_today
from service.core.permissions import administers
from service.core.tasks import TaskName, send_task
from service.core.thai import format_baht, read_code, to_thai_digits
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language
from service.dashboard import DASHBOARD_ROLES
from service.dashboard import queries as dashboard_queries
from service.dashboard.views import sort_links
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User
from service.org.scope import active_roles, in_scope, role_names, sees_everything
from service.rollups import queries as rollup_queries
from service.rollups.queries import EMPTY, Figures
from service.strategy.models import StrategyNode

bp = Blueprint("rollups", __name__)

COMPUTE_TASK = TaskName.ROLLUPS_COMPUTE


@bp.route("/admin/rollups", methods=["POST"])
@login_required
def start() -> ResponseReturnValue:
    """Start the rollup of `fiscal_year` (Buddhist Era) `quarter`; answer 202 with the task id
    and where to poll it."""
    # A rollup covers the whole tree: for the admins of a root unit.
    if not administers(db.session(), current_user._get_current_object(), None):
        abort(403)
    try:
        be_year = value_of(BeYear(required=True), request.form, "fiscal_year")
        quarter = value_of(Count(4, required=True), request.form, "quarter")
    except Invalid as invalid:
        return jsonify(error=f"{invalid.name}: {invalid.message}"), 422
    if not 1 <= quarter <= 4:
        return jsonify(error="quarter is 1..4 and fiscal_year a Buddhist Era year"), 422
    task_id = str(uuid.uuid4())
    send_task(COMPUTE_TASK, be_year, quarter, task_id=task_id)
    status_url = url_for("rollups.progress", task_id=task_id)
    return jsonify(task_id=task_id, status_url=status_url), 202, {"Location": status_url}


@bp.route("/rollups/tasks/<task_id>")
@login_required
def progress(task_id: str) -> ResponseReturnValue:
    """{"state": PENDING|STARTED|PROGRESS|SUCCESS|FAILURE, "done", "total", "phase"}."""
    result = current_app.extensions["celery"].AsyncResult(task_id)
    info = result.info if isinstance(result.info, dict) else {}
    answer = {"task_id": task_id, "state": result.state}
    for key in ("done", "total", "phase", "error"):
        if key in info:
            answer[key] = info[key]
    if result.state == "FAILURE":
        answer["error"] = str(result.info)
    return jsonify(answer)


# ---- the views people read: a unit and its children, the strategy tree -----------------------
#
# Figures of today from the live aggregates, the quarter ends from the workers' rollups (see
# service.rollups.queries for which and why); both within what the reader may see.


def sees_overview(user: User) -> bool:
    """Who reads the overview (pages and API): the dashboard's roles."""
    return bool(role_names(db.session(), user) & DASHBOARD_ROLES)


def _reader() -> User:
    user: User = current_user._get_current_object()
    if not sees_overview(user):
        abort(403)
    return user


def _year_asked(user: User) -> FiscalYear:
    session = db.session()
    if request.args.get("year"):
        try:
            be_year = value_of(BeYear(), request.args, "year")
        except Invalid:
            abort(404)
        year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    else:
        year = dashboard_queries.default_year(session, user, local_today())
    if year is None:
        abort(404)
    return year


def _home_unit(user: User) -> OrgUnit:
    """Where a reader's overview starts: the root for tree-wide readers (the whole
    administration at a glance), else the highest unit they hold a dashboard role in."""
    session = db.session()
    if sees_everything(session, user):
        root = session.scalar(
            select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.path)
        )
        if root is not None:
            return root
    held = [a.unit for a in active_roles(session, user) if a.role in DASHBOARD_ROLES]
    if not held:
        abort(404)
    return min(held, key=lambda u: (len(u.ancestor_ids), u.path))


@dataclass(frozen=True)
class Source:
    """Where a view's figures come from: the rollup of `quarter` (computed at `computed_at`),
    or live aggregates of today when `quarter` is None."""

    quarter: int | None = None
    computed_at: Any = None


def _source(user: User, year: FiscalYear) -> Source:
    """Rollups for tree-wide readers once the year has one (the whole country live is seconds
    of aggregation); live for everyone else (see service.rollups.queries)."""
    session = db.session()
    if not sees_everything(session, user):
        return Source()
    return Source(rollup_queries.latest_quarter(session, year))


def _strategy_figures(user: User, year: FiscalYear) -> tuple[dict[int, Figures], Source]:
    session = db.session()
    source = _source(user, year)
    if source.quarter is not None:
        figures, computed_at = rollup_queries.strategy_rollups(session, year, source.quarter)
        return figures, Source(source.quarter, computed_at)
    return rollup_queries.strategy_figures(session, user, year, local_today()), source


@bp.route("/overview")
@login_required
def overview() -> ResponseReturnValue:
    """The reader's own overview: their unit (the root for evaluators) and its children."""
    user = _reader()
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("year", "lang")}
    return redirect(url_for("rollups.unit_view", code=_home_unit(user).code, **kept))


def _figure_columns(first: Any, name: Any) -> list[Column]:
    return [
        Column(first, lambda r: r[0], width=16),
        Column(name, lambda r: r[1], width=48),
        Column(_l("Projects"), lambda r: r[2].projects, "number"),
        Column(_l("Behind schedule"), lambda r: r[2].behind, "number"),
        Column(_l("Progress (percent)"), lambda r: r[2].actual, "percent"),
        Column(_l("Plan (percent)"), lambda r: r[2].planned, "percent"),
        Column(_l("Approved budget (baht)"), lambda r: r[2].approved, "money", 18),
        Column(_l("Allocated (baht)"), lambda r: r[2].allocated, "money", 18),
        Column(_l("Installments granted (baht)"), lambda r: r[2].granted, "money", 18),
        Column(_l("Paid (baht)"), lambda r: r[2].paid, "money", 18),
    ]


def _progress_chart(rows: list[tuple[str, Figures]]) -> Any:
    return bar_chart(
        [(name, f.actual, f.planned, f"{f.actual:.2f} / {f.planned:.2f}") for name, f in rows]
    )


def _budget_chart(f: Figures) -> Any:
    chain: list[tuple[str, Decimal]] = [
        (_("Approved budget"), f.approved),
        (_("Allocated"), f.allocated),
        *([(_("Installments granted"), f.granted)] if f.granted is not None else []),
        (_("Paid"), f.paid),
    ]
    top = max((amount for _name, amount in chain), default=Decimal(0))
    return bar_chart(
        [(name, amount, None, format_baht(amount)) for name, amount in chain], top or Decimal(1)
    )


def unit_overview(
    user: User, unit: OrgUnit, year: FiscalYear
) -> tuple[Figures, list[tuple[OrgUnit, Figures]], Source]:
    """A unit's figures, its children's (those with projects) and where they come from, over
    what `user` may see (the unit page and /api/v1/overview/units/{code})."""
    session = db.session()
    children = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == unit.id, OrgUnit.withdrawn_at.is_(None))
            .order_by(OrgUnit.code)
        )
    )
    source = _source(user, year)
    if source.quarter is not None:
        figures, computed_at = rollup_queries.unit_rollups(
            session, year, source.quarter, [unit, *children]
        )
        source = Source(source.quarter, computed_at)
    else:
        figures = rollup_queries.unit_figures(session, user, year, [unit, *children], local_today())
    rows = [(c, figures[c.id]) for c in children if c.id in figures]
    return figures.get(unit.id, EMPTY), rows, source


def strategy_overview(
    user: User, year: FiscalYear
) -> tuple[list[tuple[StrategyNode, Figures]], Source]:
    """The strategy tree (nodes with projects, depth first) with each node's figures over what
    `user` may see (the strategy page and /api/v1/overview/strategy)."""
    nodes = list(db.session().scalars(select(StrategyNode)))
    figures, source = _strategy_figures(user, year)
    return _tree(nodes, figures, None), source


@bp.route("/overview/units/<code>")
@login_required
def unit_view(code: str) -> ResponseReturnValue:
    """A unit's projects at a glance: its figures, its children's (drill down to each), the
    projects furthest behind plan (drill down to the project), and its quarter ends; as CSV or
    XLSX with `format`."""
    user = _reader()
    session = db.session()
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == read_code(code)[:32]))
    if unit is None or not in_scope(session, user, unit):
        abort(404)
    year = _year_asked(user)
    today = local_today()
    total, rows, source = unit_overview(user, unit, year)
    lang = current_language()
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            abort(404)
        table = [(unit.code, unit.name(lang), total)] + [(c.code, c.name(lang), f) for c, f in rows]
        return download(
            fmt,
            f"overview-{year.be_year}-{unit.code}",
            _figure_columns(_l("Unit code"), _l("Unit")),
            table,
            _("Overview"),
        )
    filters = dashboard_queries.Filters(
        year=year, unit=unit, behind=True, sort="gap", descending=True
    )
    behind: Any
    if source.quarter is not None:
        behind = rollup_queries.behind_in_rollup(session, year, source.quarter, unit)
    else:
        behind = dashboard_queries.project_listing(session, user, filters, today, page_size=10)
    listing_args = MultiDict({"year": str(year.be_year), "unit": unit.code, "behind": "1"})
    line = [
        u
        for u in session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_(unit.ancestor_ids[:-1])).order_by(OrgUnit.path)
        )
        if in_scope(session, user, u)
    ]
    query: dict[str, Any] = {"year": year.be_year}
    return render_template(
        "rollups/unit.html",
        unit=unit,
        line=line,
        year=year,
        years=dashboard_queries.fiscal_years(session),
        today=today,
        total=total,
        rows=rows,
        progress_chart=_progress_chart([(c.name(lang), f) for c, f in rows]),
        budget_chart=_budget_chart(total),
        behind=behind,
        source=source,
        sorts=sort_links(listing_args, "dashboard.index", filters),
        all_projects=url_for("dashboard.index", year=year.be_year, unit=unit.code),
        quarter_ends=rollup_queries.unit_quarter_ends(session, year, unit),
        export_url=lambda fmt: url_for("rollups.unit_view", code=unit.code, **query, format=fmt),
    )


def _node_label(node: StrategyNode) -> str:
    """The node as the tree names it: its code (in Thai digits on a Thai page) and name."""
    code = to_thai_digits(node.code) if current_language() == "th" else node.code
    return f"{code} {node.name}"


def _node_key(node: StrategyNode) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in node.code.split("."))


def _tree(
    nodes: list[StrategyNode], figures: dict[int, Figures], under: int | None
) -> list[tuple[StrategyNode, Figures]]:
    """The nodes below `under` (the whole tree for None) that have projects, depth first in
    the order of their codes."""
    children: dict[int | None, list[StrategyNode]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    shown: list[tuple[StrategyNode, Figures]] = []

    def walk(parent: int | None) -> None:
        for node in sorted(children.get(parent, []), key=_node_key):
            if node.id in figures:
                shown.append((node, figures[node.id]))
                walk(node.id)

    walk(under)
    return shown


@bp.route("/overview/strategy")
@login_required
def strategy_view() -> ResponseReturnValue:
    """The strategy tree with each node's figures over the projects the reader may see
    (drill down to a node and its projects); as CSV or XLSX with `format`."""
    user = _reader()
    session = db.session()
    year = _year_asked(user)
    tree, source = strategy_overview(user, year)
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            abort(404)
        return download(
            fmt,
            f"strategy-{year.be_year}",
            _figure_columns(_l("Code"), _l("Strategy")),
            [(n.code, n.name, f) for n, f in tree],
            _("Strategy"),
        )
    top = [(n, f) for n, f in tree if n.parent_id is None]
    query: dict[str, Any] = {"year": year.be_year}
    return render_template(
        "rollups/strategy.html",
        year=year,
        years=dashboard_queries.fiscal_years(session),
        today=local_today(),
        tree=tree,
        source=source,
        progress_chart=_progress_chart([(_node_label(n), f) for n, f in top]),
        export_url=lambda fmt: url_for("rollups.strategy_view", **query, format=fmt),
    )


@bp.route("/overview/strategy/<int:node_id>")
@login_required
def strategy_node_view(node_id: int) -> ResponseReturnValue:
    """One strategy node: its figures, the nodes below it and the projects aligned to it or
    below it that the reader may see."""
    user = _reader()
    session = db.session()
    node = session.get(StrategyNode, node_id)
    if node is None:
        abort(404)
    year = _year_asked(user)
    today = local_today()
    nodes = list(session.scalars(select(StrategyNode)))
    figures, source = _strategy_figures(user, year)
    below = [(n, f) for n, f in _tree(nodes, figures, node.id) if n.parent_id == node.id]
    filters = dashboard_queries.Filters(year=year)
    ids = rollup_queries.node_project_ids(session, user, year, node)
    projects = dashboard_queries.rows_of(session, ids[:200], filters, today)
    by_id = {n.id: n for n in nodes}
    line: list[StrategyNode] = []
    parent = node.parent_id
    while parent is not None and parent in by_id:
        line.insert(0, by_id[parent])
        parent = by_id[parent].parent_id
    return render_template(
        "rollups/strategy_node.html",
        node=node,
        line=line,
        year=year,
        today=today,
        total=figures.get(node.id, EMPTY),
        source=source,
        below=below,
        progress_chart=_progress_chart([(_node_label(n), f) for n, f in below]),
        budget_chart=_budget_chart(figures.get(node.id, EMPTY)),
        projects=projects,
        more=len(ids) - len(projects),
        quarter_ends=rollup_queries.strategy_quarter_ends(session, year, node)
        if sees_everything(session, user)
        else [],
    )
