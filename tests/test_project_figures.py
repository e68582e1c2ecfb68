"""Per-project figures (issue 13): every change that moves a figure keeps `project_figures` equal
to the figures recomputed from the source rows, in the same flush; a full recompute counts and
repairs what drifted."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.budget.models import Allocation, AllocationState, Installment
from service.budget.operations import create_allocation, request_installment
from service.core.db import db
from service.core.fiscal import local_today
from service.core.tasks import TaskName
from service.org.models import OrgUnit, UnitKind, User
from service.projects.figures import (
    COLUMNS,
    computed_figures,
    figures_today,
    repair_figures,
    settle_figures,
)
from service.projects.models import (
    PlanStep,
    Project,
    ProjectFigures,
    ResultState,
    StepResult,
)
from service.workflow.engine import Refused, options, take
from tests.conftest import on_postgres
from tests.stack import committed_stack, eventually
from tests.workers import running_worker

#: Workflows whose transitions move a figure, with their model.
WORKFLOWS: dict[str, type] = {
    "step_result": StepResult,
    "allocation": Allocation,
    "installment": Installment,
    "project": Project,
}


def stored_and_recomputed(session: Session) -> tuple[dict[int, tuple[Any, ...]], dict[int, Any]]:
    day = figures_today()
    dialect = session.get_bind().dialect.name
    recomputed = {
        row[0]: tuple(_exact(v) for v in row[1:])
        for row in session.execute(computed_figures(dialect, Project.id.is_not(None), day))
    }
    table = ProjectFigures.__table__.c
    stored = {
        row[0]: tuple(_exact(v) for v in row[1:])
        for row in session.execute(select(*(table[name] for name in COLUMNS)))
    }
    return stored, recomputed


def _exact(value: Any) -> Any:
    if isinstance(value, float | int | Decimal) and not isinstance(value, bool):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return str(value)


def assert_figures_current(session: Session, after: str) -> None:
    settle_figures(session)  # as the commit would
    stored, recomputed = stored_and_recomputed(session)
    wrong = {p: (stored.get(p), row) for p, row in recomputed.items() if stored.get(p) != row}
    assert not wrong, f"after {after}: project -> (stored, recomputed) {wrong}"


def _workflow_name(model: type) -> str:
    return {v: k for k, v in WORKFLOWS.items()}[model]


def _data(rng: random.Random, name: str) -> dict[str, Any]:
    return {
        "completion": str(rng.choice([0, 25, 50, 77.5, 100])),
        "narrative": "ผลการดำเนินงาน",
        "reason": "เหตุผลประกอบ",
        "paid_on": local_today().isoformat(),
        "document_ref": "ขบ 1/2569",
        "amount": str(rng.choice([1000, 50000, 90000])),
    }


def _step(session: Session, rng: random.Random, people: list[User]) -> str:
    """One random change through the doors people use; returns what it was."""
    action = rng.randrange(8)
    if action <= 3:  # a workflow transition (the most common change)
        model = rng.choice(["step_result", "step_result", *WORKFLOWS])
        ids = list(session.scalars(select(WORKFLOWS[model].id)))
        rng.shuffle(ids)
        for ident in ids[:6]:
            obj = session.get(WORKFLOWS[model], ident)
            actors = people[:]
            rng.shuffle(actors)
            for actor in actors:
                allowed = [o for o in options(session, actor, obj) if o.allowed]
                if allowed:
                    break
            else:
                continue
            chosen = rng.choice(allowed)
            with session.begin_nested() as nested:
                try:
                    take(session, actor, model, ident, chosen.name, _data(rng, chosen.name))
                except Refused:
                    nested.rollback()
            return f"{model}.{chosen.name} by {actor.email}"
        return "nothing allowed"
    if action == 4:  # an allocation asked for
        project = rng.choice(list(session.scalars(select(Project))))
        network = rng.choice(
            list(session.scalars(select(OrgUnit).where(OrgUnit.kind == UnitKind.SCHOOL_NETWORK)))
        )
        with session.begin_nested() as nested:
            try:
                create_allocation(
                    session,
                    rng.choice(people),
                    project,
                    network,
                    Decimal(rng.choice([5000, 20000, 90000])),
                )
            except Refused:
                nested.rollback()
        return "allocation asked"
    if action == 5:  # an installment asked for
        approved = list(
            session.scalars(select(Allocation).where(Allocation.state == AllocationState.APPROVED))
        )
        if not approved:
            return "no approved allocation"
        with session.begin_nested() as nested:
            try:
                request_installment(
                    session, rng.choice(people), rng.choice(approved), Decimal("1000.00")
                )
            except Refused:
                nested.rollback()
        return "installment asked"
    if action == 6:  # a plan step re-dated or re-weighted
        step = rng.choice(list(session.scalars(select(PlanStep))))
        step.planned_end = step.planned_start + timedelta(days=rng.randrange(0, 400))
        step.weight = Decimal(rng.choice([10, 20, 35]))
        return f"step {step.id} re-planned"
    project = rng.choice(list(session.scalars(select(Project))))
    project.approved_budget = Decimal(rng.choice([0, 180000, 1000000]))
    return f"project {project.id} budget"


def test_the_demo_starts_with_current_figures(session: Session) -> None:
    assert_figures_current(session, "the demo load")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 12))
def test_every_change_keeps_the_figures_current(session: Session, seed: int, length: int) -> None:
    """Random sequences of transitions and edits by random demo users: after each one the
    stored figures equal the recomputed ones for every project."""
    rng = random.Random(seed)
    people = list(session.scalars(select(User).where(User.email.like("%@demo.tidtam.local"))))
    example = session.begin_nested()
    try:
        for _ in range(length):
            what = _step(session, rng, people)
            assert_figures_current(session, what)
    finally:
        example.rollback()


def test_drift_is_counted_and_repaired(session: Session) -> None:
    """A write round the ORM (a bulk UPDATE, a COPY) leaves the figures behind; the full
    recompute counts it and puts it right, and a second run finds nothing."""
    project_id = session.scalar(select(Project.id).order_by(Project.id))
    session.execute(
        update(ProjectFigures)
        .where(ProjectFigures.project_id == project_id)
        .values(actual_progress=Decimal("99.99"), budget_paid=Decimal("1.00"))
    )
    connection = session.connection()
    found = repair_figures(connection, figures_today(), chunk=2)
    assert (found.drifted, found.missing, found.written) == (1, 0, 1)
    assert_figures_current(session, "the repair")
    session.execute(ProjectFigures.__table__.delete())
    found = repair_figures(connection, figures_today())
    assert (found.drifted, found.missing) == (0, found.checked)
    assert_figures_current(session, "the second repair")
    again = repair_figures(connection, figures_today())
    assert (again.drifted, again.missing, again.written) == (0, 0, 0)


def test_the_nightly_task_on_a_worker_repairs_drift(tmp_path: Path) -> None:
    """A real worker runs `tidtam.rollups.figures`: the drifted rows are put right and the log
    names how many."""
    with committed_stack(tmp_path, "figures") as stack:
        with stack.app.app_context():
            session = db.session()
            session.execute(update(ProjectFigures).values(actual_progress=Decimal("99.99")))
            session.commit()
            db.session.remove()
        log = tmp_path / "worker.log"
        with running_worker(stack.env, queues="rollups", log=log):
            stack.send(TaskName.ROLLUPS_FIGURES)
            eventually(lambda: "figures.repaired" in log.read_text(), timeout=60)
        line = next(x for x in log.read_text().splitlines() if "figures.repaired" in x)
        assert '"drifted": 1' in line and '"missing": 0' in line, line
        with stack.app.app_context():
            assert_figures_current(db.session(), "the task")
            db.session.remove()


@pytest.mark.skipif(not on_postgres(), reason="SQLite runs one writer at a time")
def test_two_transactions_changing_one_project_leave_its_figures_current(tmp_path: Path) -> None:
    """A re-weighted step and a budget change of the same project, in two transactions at
    once: the second recompute waits for the first commit and reads it."""
    with committed_stack(tmp_path, "figures_race") as stack:
        engine = stack.app.extensions["tidtam.db"]
        with stack.app.app_context():
            first, second = Session(bind=engine), Session(bind=engine)
            # The demo's first step is accepted at 100 %: its weight moves actual progress.
            step = first.scalars(select(PlanStep).order_by(PlanStep.id)).first()
            assert step is not None
            step.weight += Decimal("10")
            settle_figures(first)  # as its commit begins: figures row locked and recomputed

            failed: list[BaseException] = []

            def change_budget() -> None:
                try:
                    project = second.scalars(select(Project)).one()
                    project.approved_budget = Decimal("123456.00")
                    second.commit()  # its recompute waits for the first transaction's lock
                except BaseException as error:  # reported by the test below
                    failed.append(error)

            other = threading.Thread(target=change_budget)
            other.start()
            time.sleep(0.5)
            assert not failed, failed
            assert other.is_alive(), "the second recompute did not wait"
            first.commit()
            other.join(timeout=30)
            assert not failed, failed
            check = Session(bind=engine)
            assert_figures_current(check, "two transactions")
            check.close()
            first.close()
            second.close()


def test_a_change_asks_only_about_what_it_touched(session: Session) -> None:
    """A result's change recomputes its project's figures named by its step alone: an OR with
    the (empty) lists of projects and allocations is no semi-join, and PostgreSQL tested every
    project against it (1.4 s a change at 100,000 projects, holding the figures row lock)."""
    from tests.sql_count import counting

    result = session.scalars(select(StepResult).order_by(StepResult.id)).first()
    assert result is not None
    engine = session.get_bind().engine  # type: ignore[union-attr]
    with counting(engine) as sent:
        result.narrative = "อีกครั้ง"
        result.state = (
            ResultState.IN_PROGRESS
            if result.state != ResultState.IN_PROGRESS
            else ResultState.NOT_STARTED
        )
        settle_figures(session)
    upserts = [s for s in sent if s.lstrip().upper().startswith("INSERT INTO PROJECT_FIGURES")]
    assert len(upserts) == 1, sent
    assert "allocation.id IN" not in upserts[0]
    assert " OR project.id IN" not in upserts[0]
    assert_figures_current(session, "one result's change")
