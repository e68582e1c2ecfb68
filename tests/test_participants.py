"""project_participant stays exactly the (project, unit) pairs of step_result, however
results are added, and what it answers (which projects a unit sees by taking part) agrees
with the results themselves."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import Role
from service.projects import operations, participants
from service.projects.models import PlanStep, Project, ProjectParticipant
from service.projects.queries import sees_project, visible_projects
from tests.project_data import (
    StepSpec,
    make_district,
    make_project,
    make_user,
    participants_derived,
    participants_recorded,
)
from tests.test_generate import SMALL
from tools.generate import generate


def test_the_demo_and_the_migration_backfill_agree(session: Session) -> None:
    assert participants_recorded(session) == participants_derived(session) != set()


def test_every_way_of_adding_results_keeps_the_pairs(session: Session) -> None:
    district, division, school = make_district(session, "50990000")
    # Results added as ORM objects (the importer and the demo loader do this) …
    project = make_project(
        session,
        owner=district,
        steps=[StepSpec("60", "2023-01-01", "2023-03-31", ["50.00", None], [division, school])],
    )
    session.flush()
    assert participants_recorded(session) == participants_derived(session)
    # … and by the operation a district officer uses; twice for the same pair is one row.
    officer, _password = make_user(session, Role.OFFICER, district, "officer@p.test")
    step = project.steps[0]
    operations.assign_result(session, officer, step, school)
    second = PlanStep(
        project=project,
        position=2,
        name="ขั้นตอนที่สอง",
        weight=40,
        planned_start=step.planned_start,
        planned_end=step.planned_end,
        responsible_unit=district,
    )
    session.add(second)
    session.flush()
    operations.assign_result(session, officer, second, school)
    operations.assign_result(session, officer, second, district)
    session.flush()
    assert participants_recorded(session) == participants_derived(session)
    pairs = {(p, u) for p, u, _y in participants_recorded(session) if p == project.id}
    assert pairs == {(project.id, division.id), (project.id, school.id), (project.id, district.id)}


def test_a_school_sees_the_project_it_reports_on_and_no_other(session: Session) -> None:
    district, division, school = make_district(session, "50980000")
    taken_part = make_project(
        session,
        owner=district,
        steps=[StepSpec("100", "2023-01-01", "2023-03-31", [None], [school])],
    )
    not_taken_part = make_project(
        session,
        owner=district,
        steps=[StepSpec("100", "2023-01-01", "2023-03-31", [None], [division])],
    )
    clerk, _password = make_user(session, Role.SCHOOL, school, "clerk@p.test")
    listed = set(session.scalars(select(Project.id).where(visible_projects(session, clerk))))
    assert taken_part.id in listed and not_taken_part.id not in listed
    assert sees_project(session, clerk, taken_part)
    assert not sees_project(session, clerk, not_taken_part)
    in_year = set(
        session.scalars(
            select(Project.id).where(visible_projects(session, clerk, taken_part.fiscal_year_id))
        )
    )
    assert in_year == listed
    other_year = taken_part.fiscal_year_id + 1000
    assert not list(
        session.scalars(select(Project.id).where(visible_projects(session, clerk, other_year)))
    )


def test_the_generator_fills_it_in_bulk(session: Session) -> None:
    generate(session, SMALL)
    assert participants_recorded(session) == participants_derived(session)
    session.execute(ProjectParticipant.__table__.delete())
    assert participants.refill(session.connection()) == len(participants_derived(session))
    assert participants_recorded(session) == participants_derived(session)
