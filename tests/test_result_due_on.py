"""A step result's `due_on` (issue 13): the copy of its step's planned end the result lists sort
on never drifts from it. A step's new end reaches its results in the same flush (and the same
commit), without moving their versions; a new result, or one moved to another step, takes its
step's end; the migration fills the copy for results already there."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.cli import alembic_config
from service.core.db import make_engine
from service.org.models import OrgUnit, UnitKind
from service.projects.due_on import drifted_results
from service.projects.models import PlanStep, ResultState, StepResult
from tests.conftest import create_database, drop_database, on_postgres
from tests.stack import committed_stack


def test_the_demo_starts_with_no_drift(session: Session) -> None:
    assert session.scalar(select(StepResult.id)) is not None
    assert drifted_results(session) == 0


def test_a_step_moved_moves_its_results_in_the_same_commit(session: Session) -> None:
    step = session.scalars(
        select(PlanStep).where(PlanStep.results.any()).order_by(PlanStep.id)
    ).first()
    assert step is not None
    results = list(session.scalars(select(StepResult).where(StepResult.step_id == step.id)))
    versions = {r.id: r.version for r in results}
    later = step.planned_end + timedelta(days=40)
    step.planned_end = later
    session.commit()
    # The results this session holds were told, not made dirty by it …
    assert all(r.due_on == later for r in results)
    assert not any(r in session.dirty for r in results)
    # … and the table says the same: the version of a school's report did not move.
    session.expire_all()
    for result in session.scalars(select(StepResult).where(StepResult.step_id == step.id)):
        assert result.due_on == later
        assert result.version == versions[result.id]
    assert drifted_results(session) == 0


def test_a_new_result_and_a_moved_one_take_their_steps_end(session: Session) -> None:
    step, other = list(
        session.scalars(select(PlanStep).where(PlanStep.results.any()).order_by(PlanStep.id))
    )[:2]
    other.planned_end = other.planned_start + timedelta(days=3)
    session.flush()
    school = session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.kind == UnitKind.SCHOOL,
            ~OrgUnit.id.in_(select(StepResult.unit_id).where(StepResult.step_id == step.id)),
        )
        .order_by(OrgUnit.id)
    ).first()
    assert school is not None
    by_object = StepResult(step=step, unit=school, state=ResultState.NOT_STARTED)
    session.add(by_object)
    session.flush()
    assert by_object.due_on == step.planned_end
    by_object.step_id = other.id
    session.flush()
    assert by_object.due_on == other.planned_end
    assert drifted_results(session) == 0


def _change(session: Session, rng: random.Random) -> str:
    """One random change to steps' ends or results' steps."""
    steps = list(session.scalars(select(PlanStep).order_by(PlanStep.id)))
    action = rng.randrange(3)
    step = rng.choice(steps)
    if action == 0:  # a step re-dated, sometimes twice in one flush
        for _ in range(rng.randrange(1, 3)):
            step.planned_end = step.planned_start + timedelta(days=rng.randrange(0, 400))
        return f"step {step.id} re-dated"
    if action == 1:  # a project's steps re-dated at once (the plan editor's save)
        for sibling in session.scalars(
            select(PlanStep).where(PlanStep.project_id == step.project_id)
        ):
            sibling.planned_end = sibling.planned_start + timedelta(days=rng.randrange(0, 60))
        return f"project {step.project_id} re-planned"
    units = list(session.scalars(select(OrgUnit.id).where(OrgUnit.kind == UnitKind.SCHOOL)))
    taken = set(session.scalars(select(StepResult.unit_id).where(StepResult.step_id == step.id)))
    free = [u for u in units if u not in taken]
    if not free:
        return "no free unit"
    session.add(StepResult(step_id=step.id, unit_id=rng.choice(free)))
    return f"a result on step {step.id}"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 8))
def test_no_sequence_of_changes_makes_the_copy_drift(
    session: Session, seed: int, length: int
) -> None:
    rng = random.Random(seed)
    example = session.begin_nested()
    try:
        for _ in range(length):
            what = _change(session, rng)
            session.flush()
            assert drifted_results(session) == 0, what
            held = [o for o in session.identity_map.values() if isinstance(o, StepResult)]
            assert all(r.due_on == r.step.planned_end for r in held), what
    finally:
        example.rollback()


def test_the_migration_fills_the_copy(tmp_path: Path) -> None:
    """Results already there when the column comes get their step's planned end."""
    url = create_database(tmp_path, "due_on")
    engine = make_engine(url)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        "INSERT INTO org_unit (id, kind, code, name_th, name_en, path)"
        " VALUES (1, 'school', 'S1', 'โรงเรียน', 'School', '/1/')",
        "INSERT INTO fiscal_year (id, be_year, starts_on, ends_on, is_open)"
        " VALUES (1, 2567, :start, :end, :yes)",
        "INSERT INTO project (id, code, fiscal_year_id, name, owner_unit_id,"
        " responsible_unit_id, kind, multi_year, in_plan, rationale, unit_codes, contact_name,"
        " contact_phone, approved_budget, state, version, created_at, updated_at) VALUES (1,"
        " 'P1', 1, 'โครงการ', 1, 1, 'routine', :no, :yes, '', '', '', '', 0, 'locked', 1,"
        " :now, :now)",
        "INSERT INTO plan_step (id, project_id, position, name, weight, planned_start,"
        " planned_end) VALUES (1, 1, 1, 'หนึ่ง', 50, :start, :first), (2, 1, 2, 'สอง', 50,"
        " :start, :second)",
        "INSERT INTO step_result (id, step_id, unit_id, state, completion, narrative,"
        " review_reason, version) VALUES (1, 1, 1, 'not_started', 0, '', '', 1),"
        " (2, 2, 1, 'not_started', 0, '', '', 1)",
    ]
    values = {
        "start": date(2023, 10, 1),
        "end": date(2024, 9, 30),
        "first": date(2023, 12, 15),
        "second": date(2024, 3, 31),
        "yes": True,
        "no": False,
        "now": now,
    }
    try:
        config = alembic_config(url)
        command.upgrade(config, "5b9e2c7d1a40")  # the revision before due_on
        with engine.begin() as conn:
            for row in rows:
                conn.execute(text(row), values)
        command.upgrade(config, "head")
        with engine.connect() as conn:
            found = conn.execute(text("SELECT id, due_on FROM step_result ORDER BY id")).all()
        assert [(i, str(d)) for i, d in found] == [(1, "2023-12-15"), (2, "2024-03-31")]
    finally:
        engine.dispose()
        drop_database(url)


@pytest.mark.skipif(not on_postgres(), reason="SQLite runs one writer at a time")
def test_a_result_made_while_its_step_is_re_dated_takes_the_new_date(tmp_path: Path) -> None:
    """One transaction re-dates a step; another, which loaded the step before that commit,
    makes a result on it meanwhile. Whichever flushes first, the result ends with the new
    date: the step's end is read under a share lock, not from the stale copy in memory."""
    with committed_stack(tmp_path, "due_on_race") as stack:
        engine = stack.app.extensions["tidtam.db"]
        with stack.app.app_context():
            first, second = Session(bind=engine), Session(bind=engine)
            try:
                step = first.scalars(select(PlanStep).order_by(PlanStep.id)).first()
                assert step is not None
                seen = second.get(PlanStep, step.id)  # the old date, in the second's memory
                assert seen is not None
                taken = set(
                    second.scalars(select(StepResult.unit_id).where(StepResult.step_id == step.id))
                )
                school = second.scalars(
                    select(OrgUnit)
                    .where(OrgUnit.kind == UnitKind.SCHOOL, OrgUnit.id.not_in(taken))
                    .order_by(OrgUnit.id)
                ).first()
                assert school is not None
                later = step.planned_end + timedelta(days=30)
                step.planned_end = later
                first.flush()  # the step row is locked, its results updated, not committed
                failed: list[BaseException] = []

                def make_result() -> None:
                    try:
                        second.add(StepResult(step=seen, unit=school))
                        second.flush()  # waits for the first transaction's step lock
                        second.commit()
                    except BaseException as error:  # reported by the test below
                        failed.append(error)

                other = threading.Thread(target=make_result)
                other.start()
                first.commit()
                other.join(timeout=30)
                assert not failed, failed
                check = Session(bind=engine)
                made = check.scalar(
                    select(StepResult).where(
                        StepResult.step_id == step.id, StepResult.unit_id == school.id
                    )
                )
                assert made is not None and made.due_on == later
                assert drifted_results(check) == 0
                check.close()
            finally:
                first.close()
                second.close()
