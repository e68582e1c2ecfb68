"""The district dashboard: a unit's projects for a fiscal year, with progress against plan,
behind-schedule flag, overdue steps and budget, sortable, filterable and paginated in SQL.

The same rows feed the public list (with `public_only`) and the CSV/XLSX exports (all pages).
For today (the figures' day) every sort and filter reads the project table and the kept
figures (`project_figures`, one row per project, kept by the changes that move them): the
page of 50 ids is chosen by an ordered scan that stops after 50 rows, read by offset or by
key (`?after=`), and counted in a statement of its own. For another day (a report as of a
past date) the figures are aggregated from steps, results, allocations and installments,
still in one statement of subqueries joined once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    exists,
    func,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased

from service.core import keyset
from service.core.paging import count_rows
from service.core.progress import DEFAULT_TOLERANCE, is_behind_schedule
from service.core.sql import dialect_of, matches_text
from service.core.thai import read_code
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, UnitKind, User
from service.org.scope import scope_roots, unit_filter
from service.projects.aggregates import (
    RowsSelect,
    allocation_figures,
    installment_figures,
    money_value,
    percent_value,
    step_figures,
    zero_if_null,
)
from service.projects.figures import figures_today
from service.projects.models import (
    UNDER_WAY,
    Project,
    ProjectFigures,
    ProjectParticipant,
    ProjectState,
)
from service.projects.queries import run_or_owned, visible_projects

PAGE_SIZE = 50

#: Sort keys offered to the reader, in the order of the table's columns.
SORT_KEYS = ("code", "name", "unit", "actual", "planned", "gap", "overdue", "approved", "paid")
#: Sort keys answered from the project table alone (no aggregate needed to choose a page).
_CHEAP_SORTS = frozenset({"code", "name", "unit", "approved"})
#: Projects the public sees: registered (not drafts) and not withdrawn.
PUBLIC_STATES = tuple(
    s for s in ProjectState if s not in (ProjectState.DRAFT, ProjectState.WITHDRAWN)
)
#: Units offered as filters: every kind above a single school.
FILTER_UNIT_KINDS = tuple(k for k in UnitKind if k is not UnitKind.SCHOOL)


@dataclass(frozen=True)
class Filters:
    year: FiscalYear
    unit: OrgUnit | None = None
    q: str = ""
    behind: bool = False
    sort: str = "code"
    descending: bool = False
    page: int = 1
    #: A cursor (`?after=`): the rows after it, read by key, instead of page `page`.
    after: str | None = None

    @property
    def needs_figures(self) -> bool:
        return self.behind or self.sort not in _CHEAP_SORTS


@dataclass(frozen=True)
class Row:
    project_id: int
    code: str
    name: str
    state: ProjectState
    unit_code: str
    unit_name_th: str
    unit_name_en: str
    actual: Decimal
    planned: Decimal
    overdue: int
    approved: Decimal
    allocated: Decimal
    granted: Decimal
    paid: Decimal

    @property
    def behind(self) -> bool:
        """Behind its approved plan (a draft has no plan to be behind yet)."""
        return self.state in UNDER_WAY and is_behind_schedule(self.actual, self.planned)

    @property
    def gap(self) -> Decimal:
        return self.planned - self.actual

    def unit_name(self, lang: str) -> str:
        return self.unit_name_en if lang == "en" and self.unit_name_en else self.unit_name_th


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    total: int
    page: int
    pages: int
    #: The cursor this page was read after, and the one of the rows after it (see
    #: `service.core.paging.Paged`).
    after: str | None = None
    next_after: str | None = None


def _base_conditions(
    session: Session, user: User | None, filters: Filters, public_only: bool
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Project.fiscal_year_id == filters.year.id]
    if public_only:
        conditions.append(Project.state.in_(PUBLIC_STATES))
    if user is not None:
        conditions.append(visible_projects(session, user, filters.year.id, read_first=True))
    if filters.unit is not None and filters.unit.kind is UnitKind.SCHOOL:
        # A school runs and owns no project: its projects are those it reports results in.
        conditions.append(
            Project.id.in_(
                select(ProjectParticipant.project_id).where(
                    ProjectParticipant.unit_id == filters.unit.id,
                    ProjectParticipant.fiscal_year_id == filters.year.id,
                )
            )
        )
    elif filters.unit is not None:
        # The chosen unit's subtree as ids (a district's: about a hundred), then two index
        # ranges of this year's projects: an EXISTS matching paths tested every project of
        # the year (a network chosen by an evaluator: 190 ms).
        subtree = list(
            session.scalars(select(OrgUnit.id).where(OrgUnit.path.startswith(filters.unit.path)))
        )
        in_year = Project.fiscal_year_id == filters.year.id
        conditions.append(run_or_owned(dialect_of(session), subtree, in_year))
    q = filters.q.strip()
    if q:
        conditions.append(matches_text(q, Project.code, Project.name))
    return conditions


def _figures(project_ids: Any, day: date | ColumnElement[date]) -> tuple[Any, Any, Any]:
    steps = step_figures(project_ids, day).subquery("steps")
    allocations = allocation_figures(project_ids).subquery("allocations")
    installments = installment_figures(project_ids).subquery("installments")
    return steps, allocations, installments


def _listing_select(project_ids: Any, day: date | ColumnElement[date]) -> RowsSelect:
    """The listing's columns for the projects among `project_ids`: a list of ids, or the
    `id` column of a CTE of the projects in scope (computed once, however many of the
    aggregate subqueries read it)."""
    steps, allocations, installments = _figures(project_ids, day)
    unit = aliased(OrgUnit)
    actual = zero_if_null(steps.c.actual)
    planned = zero_if_null(steps.c.planned)
    return (
        select(
            Project.id,
            Project.code,
            Project.name,
            Project.state,
            unit.code.label("unit_code"),
            unit.name_th,
            unit.name_en,
            actual.label("actual"),
            planned.label("planned"),
            zero_if_null(steps.c.overdue).label("overdue"),
            Project.approved_budget,
            zero_if_null(allocations.c.allocated).label("allocated"),
            zero_if_null(installments.c.granted).label("granted"),
            zero_if_null(installments.c.paid).label("paid"),
        )
        .join(unit, unit.id == Project.responsible_unit_id)
        .outerjoin(steps, steps.c.project_id == Project.id)
        .outerjoin(allocations, allocations.c.project_id == Project.id)
        .outerjoin(installments, installments.c.project_id == Project.id)
        .where(Project.id.in_(project_ids))
    )


def _stored_select(project_ids: Any) -> RowsSelect:
    """The listing's columns read from the kept figures (`project_figures`): one row per
    project, no aggregate. Valid for the figures' day (today); a missing row reads as zeros
    until the nightly recompute writes it."""
    unit = aliased(OrgUnit)
    kept = ProjectFigures
    return (
        select(
            Project.id,
            Project.code,
            Project.name,
            Project.state,
            unit.code.label("unit_code"),
            unit.name_th,
            unit.name_en,
            func.coalesce(kept.actual_progress, 0).label("actual"),
            func.coalesce(kept.planned_progress, 0).label("planned"),
            func.coalesce(kept.overdue_steps, 0).label("overdue"),
            Project.approved_budget,
            func.coalesce(kept.budget_allocated, 0).label("allocated"),
            func.coalesce(kept.budget_granted, 0).label("granted"),
            func.coalesce(kept.budget_paid, 0).label("paid"),
        )
        .join(unit, unit.id == Project.responsible_unit_id)
        .outerjoin(kept, kept.project_id == Project.id)
        .where(Project.id.in_(project_ids))
    )


def _scoped(where: list[ColumnElement[bool]]) -> Any:
    """The ids of the projects in scope, as a CTE (one evaluation of the scope conditions)."""
    return select(Project.id.label("id")).where(*where).cte("scoped")


def _order(statement: RowsSelect, sort: str, descending: bool) -> RowsSelect:
    columns = {c.name: c for c in statement.selected_columns}
    key = sort if sort in SORT_KEYS else "code"
    expression: Any = {
        "code": columns["code"],
        "name": columns["name"],
        "unit": columns["name_th"],
        "actual": columns["actual"],
        "planned": columns["planned"],
        "gap": columns["planned"] - columns["actual"],
        "overdue": columns["overdue"],
        "approved": columns["approved_budget"],
        "paid": columns["paid"],
    }[key]
    ordered = expression.desc() if descending else expression.asc()
    return statement.order_by(ordered, columns["code"].asc(), columns["id"].asc())


def _row(values: Any) -> Row:
    return Row(
        project_id=values.id,
        code=values.code,
        name=values.name,
        state=values.state,
        unit_code=values.unit_code,
        unit_name_th=values.name_th,
        unit_name_en=values.name_en,
        actual=percent_value(values.actual),
        planned=percent_value(values.planned),
        overdue=int(values.overdue or 0),
        approved=money_value(values.approved_budget),
        allocated=money_value(values.allocated),
        granted=money_value(values.granted),
        paid=money_value(values.paid),
    )


def _behind_condition(statement: RowsSelect) -> ColumnElement[bool]:
    columns = {c.name: c for c in statement.selected_columns}
    return and_(
        columns["state"].in_(UNDER_WAY),
        columns["planned"] - columns["actual"] > DEFAULT_TOLERANCE,
    )


def project_listing(
    session: Session,
    user: User | None,
    filters: Filters,
    day: date,
    *,
    public_only: bool = False,
    page_size: int = PAGE_SIZE,
) -> Listing:
    """One page of the projects `user` may see (everyone's public projects when `user` is
    None and `public_only`), with their figures as of `day`, sorted and filtered."""
    where = _base_conditions(session, user, filters, public_only)
    page = max(filters.page, 1)
    offset = (page - 1) * page_size
    stored = day == figures_today()
    if not filters.needs_figures or stored:
        # Choose the page from the project table (and the kept figures) alone, then read
        # the rows of its ids only. Two statements, not a window count riding on the page:
        # with an index on the sort key, a tree-wide reader's page of 50 stops after 50 of
        # 33,000 rows, and the count reads an index only (a window count made it sort them
        # all: 0.85 s).
        total = session.scalar(_count_statement(where, filters)) or 0
        # A page past the end (an old link, a typed number) is the last page, as in the
        # work queues: a reader is shown rows, not "no project matches".
        page = min(page, max((total + page_size - 1) // page_size, 1))
        offset = (page - 1) * page_size
        ordered = _cheap_ids(where, filters)
        after = None
        if filters.after:
            try:
                found, following = keyset.page_after(session, ordered, filters.after, page_size)
                after = filters.after
            except keyset.BadCursor:
                found, following = keyset.page_after(session, ordered, None, page_size)
                page = 1
        else:
            found, following = keyset.page_after(session, ordered.offset(offset), None, page_size)
        page_ids = [row[0] for row in found]
        rows = []
        if page_ids:
            statement = _page_statement(filters.sort, filters.descending, stored)
            listed = session.execute(statement, {"page_ids": page_ids, "day": day})
            rows = [_row(values) for values in listed]
        pages = max((total + page_size - 1) // page_size, 1)
        return Listing(
            rows=rows,
            total=total,
            page=0 if after else page,
            pages=pages,
            after=after,
            next_after=following,
        )
    else:
        # Another day than the figures': aggregate the source rows for that day.
        _tune_for_aggregates(session)
        scoped = _scoped(where)
        statement = _listing_select(select(scoped.c.id), day)
        if filters.behind:
            statement = statement.where(_behind_condition(statement))
        # The total rides along with the page (one pass over the aggregates, not two).
        counted = statement.add_columns(func.count().over().label("total"))
        ordered = _order(counted, filters.sort, filters.descending)
        found = list(session.execute(ordered.limit(page_size).offset(offset)))
        total = found[0].total if found else count_rows(session, statement)
        if not found and total:
            page = (total + page_size - 1) // page_size
            offset = (page - 1) * page_size
            found = list(session.execute(ordered.limit(page_size).offset(offset)))
        rows = [_row(values) for values in found]
    pages = max((total + page_size - 1) // page_size, 1)
    return Listing(rows=rows, total=total, page=page, pages=pages)


def _behind_kept() -> ColumnElement[bool]:
    return and_(
        Project.state.in_(UNDER_WAY),
        ProjectFigures.planned_progress - ProjectFigures.actual_progress > DEFAULT_TOLERANCE,
    )


def _count_statement(where: list[ColumnElement[bool]], filters: Filters) -> Any:
    """How many projects the listing has: the project table alone, or with the kept
    figures when only projects behind plan are asked for."""
    statement = select(func.count()).select_from(Project).where(*where)
    if filters.behind:
        statement = statement.join(ProjectFigures, ProjectFigures.project_id == Project.id).where(
            _behind_kept()
        )
    return statement


@functools.cache
def _page_statement(sort: str, descending: bool, stored: bool = False) -> RowsSelect:
    """The listing of one page of projects, by sort order, with the ids (`page_ids`) and
    the day (`day`) left as parameters: built and compiled once per process, not per
    request (building it took a tenth of the dashboard's time). `stored`: read the kept
    figures (the day is then today's and unused)."""
    ids: Any = bindparam("page_ids", expanding=True)
    if stored:
        return _order(_stored_select(ids), sort, descending)
    return _order(_listing_select(ids, bindparam("day", type_=Date)), sort, descending)


def _tune_for_aggregates(session: Session) -> None:
    """On PostgreSQL, for this transaction: no JIT (compiling the plan costs seconds and saves
    less on a query that reads each row once) and room to hash the per-step aggregate in
    memory instead of spilling it to disk."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def _cheap_ids(where: list[ColumnElement[bool]], filters: Filters) -> Any:
    """The ids of the projects meeting `where`, in the order of a sort key read from the
    project table or the kept figures (one row each: no aggregate)."""
    unit = aliased(OrgUnit)
    kept = ProjectFigures
    key = filters.sort if filters.sort in SORT_KEYS else "code"
    expression: Any = {
        "code": Project.code,
        "name": Project.name,
        "unit": unit.name_th,
        "approved": Project.approved_budget,
        "actual": func.coalesce(kept.actual_progress, 0),
        "planned": func.coalesce(kept.planned_progress, 0),
        "gap": func.coalesce(kept.planned_progress, 0) - func.coalesce(kept.actual_progress, 0),
        "overdue": func.coalesce(kept.overdue_steps, 0),
        "paid": func.coalesce(kept.budget_paid, 0),
    }[key]
    order = expression.desc() if filters.descending else expression.asc()
    statement = select(Project.id)
    if key == "unit":  # every project has its responsible unit: joined only to sort on
        statement = statement.join(unit, unit.id == Project.responsible_unit_id)
    if key not in _CHEAP_SORTS or filters.behind:
        statement = statement.outerjoin(kept, kept.project_id == Project.id)
    if filters.behind:
        statement = statement.where(_behind_kept())
    return statement.where(*where).order_by(order, Project.code.asc(), Project.id.asc())


def export_ids(
    session: Session,
    user: User | None,
    filters: Filters,
    day: date,
    *,
    public_only: bool = False,
) -> list[int]:
    """The ids of every row of the listing, in its order (for exports, which then read the
    rows a chunk at a time with `rows_of`): a list of ints, small even at 100,000 projects."""
    where = _base_conditions(session, user, filters, public_only)
    if not filters.needs_figures or day == figures_today():
        return list(session.scalars(_cheap_ids(where, filters)))
    _tune_for_aggregates(session)
    statement = _listing_select(select(_scoped(where).c.id), day)
    if filters.behind:
        statement = statement.where(_behind_condition(statement))
    listed = statement.subquery("listed")
    ordered = _order(select(*listed.c), filters.sort, filters.descending)
    return list(session.scalars(ordered.with_only_columns(listed.c.id)))


def rows_of(session: Session, ids: Sequence[int], filters: Filters, day: date) -> list[Row]:
    """The listing's rows of the projects `ids`, in the order of `ids` (a project deleted
    since the ids were read is left out)."""
    statement = _page_statement(filters.sort, filters.descending, day == figures_today())
    found = {
        row.project_id: row
        for row in map(_row, session.execute(statement, {"page_ids": list(ids), "day": day}))
    }
    return [found[i] for i in ids if i in found]


def fiscal_years(session: Session) -> list[FiscalYear]:
    return list(session.scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc())))


def default_year(session: Session, user: User | None, today: date) -> FiscalYear | None:
    """The fiscal year containing `today` if it has projects the reader may see (the public
    when `user` is None), else the latest year that has some, else the latest year."""
    from service.core.fiscal import fiscal_year_of

    current = fiscal_year_of(today)
    condition: ColumnElement[bool] = Project.state.in_(PUBLIC_STATES)
    if user is not None:
        condition = visible_projects(session, user)
    years_with_projects = list(
        session.scalars(
            select(FiscalYear)
            .where(exists().where(Project.fiscal_year_id == FiscalYear.id, condition))
            .order_by(FiscalYear.be_year.desc())
        )
    )
    for year in years_with_projects:
        if year.be_year == current:
            return year
    if years_with_projects:
        return years_with_projects[0]
    years = fiscal_years(session)
    return years[0] if years else None


def filter_units(
    session: Session, user: User | None, chosen: OrgUnit | None = None
) -> list[OrgUnit]:
    """Units offered in the unit filter, a path through the reader's scope above school
    level: the top of the scope and the units one level below it; with a unit `chosen`, also
    every unit on the way down to it and the units one level below each. An evaluator sees the
    administration and its districts (not 800 divisions and networks), a district's
    divisions once the district is chosen, a division's networks once it is: each choice
    opens the level below it, and the page carries tens of options, not the whole tree."""
    condition = unit_filter(session, user) if user is not None else true()
    roots = scope_roots(session, user) if user is not None else None
    opened = set(roots or ())
    if chosen is not None:
        opened |= set(chosen.ancestor_ids)
    shown = OrgUnit.id.in_(opened) | OrgUnit.parent_id.in_(opened)
    if roots is None:  # the whole tree: its roots and the units below them
        top = select(OrgUnit.id).where(OrgUnit.parent_id.is_(None))
        shown = shown | OrgUnit.parent_id.is_(None) | OrgUnit.parent_id.in_(top.scalar_subquery())
    offered: ColumnElement[bool] = OrgUnit.kind.in_(FILTER_UNIT_KINDS)
    if chosen is not None:  # a school is offered once chosen (its code in a link, or typed)
        offered = offered | (OrgUnit.id == chosen.id)
    units = list(
        session.scalars(
            select(OrgUnit).where(
                condition,
                offered,
                OrgUnit.withdrawn_at.is_(None),
                shown,
            )
        )
    )
    # As a tree: each unit under its parent, brothers by code (paths are of ids).
    codes = {unit.id: unit.code for unit in units}
    return sorted(units, key=lambda unit: [codes.get(i, "") for i in unit.ancestor_ids])


def unit_by_code(session: Session, code: str) -> OrgUnit | None:
    """The unit of `code` as a person types it (Thai or full-width digits, spaces around)."""
    code = read_code(code)
    if not code:
        return None
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))
