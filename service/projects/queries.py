"""Reading projects: which a user may see, and their derived progress."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    exists,
    false,
    func,
    select,
    true,
    union,
)
from sqlalchemy.orm import Session

from service.core.progress import actual_progress
from service.core.sql import dialect_of, ids_read_first, in_ids, in_ids_or_query
from service.org.models import OrgUnit, User
from service.org.scope import active_roles, in_scope, tree_wide, unit_filter, unit_ids_in_scope
from service.projects.models import PlanStep, Project, ProjectParticipant, StepResult


def visible_projects(
    session: Session, user: User, fiscal_year_id: int | None = None, *, read_first: bool = False
) -> ColumnElement[bool]:
    """A condition on `Project`: its responsible or owning unit lies in the user's scope, or a
    unit in the user's scope reports a result on one of its steps (how a school sees a
    district project it takes part in). With `fiscal_year_id`, also: the project is of that
    year (pushed into each branch, so each reads only that year's index range).

    The unit ids in scope (a subtree: tens of units) are read first and sent along, and the
    condition is `id IN` a union of three index ranges (responsible, owner, participant),
    which PostgreSQL hashes once, instead of an OR it would test on every project; tree-wide
    roles get a plain true.

    `read_first`: the union's ids are read now and sent as one array (`ids_read_first`), for
    a list that pages and counts them: PostgreSQL guessed the union six times too large and
    hashed it against the whole year's index (a district's dashboard: 4-5 ms for each of its
    count and page, 1 ms each from the array)."""
    in_year = Project.fiscal_year_id == fiscal_year_id if fiscal_year_id is not None else true()
    units = unit_ids_in_scope(session, user)
    if units is None:
        return in_year
    if not units:
        return false()
    dialect = dialect_of(session)
    participant_year = (
        ProjectParticipant.fiscal_year_id == fiscal_year_id
        if fiscal_year_id is not None
        else true()
    )
    ids = union(
        *run_or_owned_by(dialect, units, in_year),
        select(ProjectParticipant.project_id).where(
            in_ids(dialect, ProjectParticipant.unit_id, units), participant_year
        ),
    )
    if read_first:
        return and_(in_ids_or_query(dialect, Project.id, ids_read_first(session, ids)), in_year)
    return and_(Project.id.in_(ids), in_year)


def run_or_owned_by(
    dialect: str, units: list[int], *where: ColumnElement[bool]
) -> tuple[Select[int], Select[int]]:
    """The ids of the projects (meeting `where`) whose responsible unit, and of those whose
    owning unit, is one of `units`: two index ranges to UNION, where an OR across the two
    columns or a match of the units' paths makes PostgreSQL test every project."""
    return (
        select(Project.id).where(in_ids(dialect, Project.responsible_unit_id, units), *where),
        select(Project.id).where(in_ids(dialect, Project.owner_unit_id, units), *where),
    )


def run_or_owned(
    dialect: str, units: list[int], *where: ColumnElement[bool]
) -> ColumnElement[bool]:
    """A condition on `Project`: it is one of `run_or_owned_by` (the two ranges' UNION as a
    subquery, which PostgreSQL hashes once)."""
    return Project.id.in_(union(*run_or_owned_by(dialect, units, *where)))


def run_or_owned_ids(
    session: Session, units: list[int], *where: ColumnElement[bool]
) -> list[int] | Select[int] | CompoundSelect:
    """The ids of `run_or_owned_by` read now, to be sent as one array (`in_ids_or_query`):
    PostgreSQL then plans with the real number of projects. As an OR across the two unit
    columns in a subquery, an officer's review queue walked all 22,000 submitted results of
    the country to find the 54 of his division (265 ms)."""
    return ids_read_first(session, union(*run_or_owned_by(dialect_of(session), units, *where)))


def sees_project(session: Session, user: User, project: Project) -> bool:
    """`visible_projects` for one project, by its units and a primary-key probe.

    When the project's units are loaded with it (the project page), they are matched
    against the reader's role units by path, then the units of its loaded results (a school
    taking part in a district's project), and only a reader who sees none of them asks
    whether a unit of theirs takes part: the project's few participant rows joined to their
    units, no list of unit ids needed."""
    loaded = project.__dict__
    responsible, owner = loaded.get("responsible_unit"), loaded.get("owner_unit")
    if responsible is not None and owner is not None:
        if any(tree_wide(a) for a in active_roles(session, user)):
            return True
        if in_scope(session, user, responsible) or in_scope(session, user, owner):
            return True
        # A unit reporting a result takes part (project_participant is derived from the
        # results): the page's results come with their units, so most schools are answered
        # here; the participant rows answer the rest.
        if "steps" in loaded and any(
            in_scope(session, user, result.unit)
            for step in project.steps
            for result in step.__dict__.get("results", ())
            if "unit" in result.__dict__
        ):
            return True
        scope = unit_filter(session, user)
        return bool(
            session.scalar(
                select(
                    exists()
                    .where(ProjectParticipant.project_id == project.id)
                    .where(ProjectParticipant.unit_id == OrgUnit.id, scope)
                )
            )
        )
    return project.id in projects_seen(session, user, [project])


def projects_seen(session: Session, user: User, projects: list[Project]) -> set[int]:
    """The ids of those of `projects` the user sees (`sees_project` for a list): by their
    responsible and owning units first, and the participant rows of the rest in one
    statement, none when the units answer for all."""
    found = unit_ids_in_scope(session, user)
    if found is None:
        return {p.id for p in projects}
    units = set(found)
    seen = {p.id for p in projects if {p.responsible_unit_id, p.owner_unit_id} & units}
    rest = list({p.id for p in projects} - seen)
    if rest and units:
        seen.update(
            session.scalars(
                select(ProjectParticipant.project_id)
                .where(
                    in_ids(dialect_of(session), ProjectParticipant.project_id, rest),
                    in_ids(dialect_of(session), ProjectParticipant.unit_id, found),
                )
                .distinct()
            )
        )
    return seen


def project_list(session: Session, user: User) -> Select[Project]:
    return select(Project).where(visible_projects(session, user)).order_by(Project.code)


def step_completions(session: Session, project_id: int) -> list[tuple[Decimal, Decimal | None]]:
    """(weight, completion) per step, completion being the mean accepted completion over the
    step's result rows (a row with nothing accepted counts 0), or None with no accepted row."""
    accepted = func.avg(func.coalesce(StepResult.accepted_completion, 0))
    any_accepted = func.max(StepResult.accepted_completion)
    rows = session.execute(
        select(PlanStep.weight, accepted, any_accepted)
        .outerjoin(StepResult, StepResult.step_id == PlanStep.id)
        .where(PlanStep.project_id == project_id)
        .group_by(PlanStep.id, PlanStep.weight)
        .order_by(PlanStep.id)
    ).all()
    return [
        (weight, None if anything is None else Decimal(str(mean)))
        for weight, mean, anything in rows
    ]


def project_progress(session: Session, project_id: int) -> Decimal:
    """Σ weight × accepted completion: the progress the project page shows."""
    return actual_progress(step_completions(session, project_id))
