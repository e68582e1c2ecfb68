"""The data generator: the same seed gives the same data, the data keeps every rule of the
domain (and every foreign key, which the PostgreSQL load does not check row by row), and the
demo beside it stays as it was."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from service import create_app
from service.cli import alembic_config
from service.models import Base
from service.projects.models import PlanStep
from tests.conftest import app_environment, create_database, drop_database
from tools.generate import (
    GENERATOR_ACTION,
    GeneratedDataExists,
    GenerateOptions,
    generate,
    generated_runs,
    parse_years,
)

ROOT = Path(__file__).resolve().parent.parent

SMALL = GenerateOptions(
    projects=150,
    seed=7,
    years=(2566, 2567),
    districts=3,
    departments=2,
    schools_per_network=2,
    chunk=40,
    analyze=False,
)

# Key columns of what the generator writes, ordered by natural keys only (never by id).
CHECKSUMS = {
    "projects": """
        SELECT p.code, f.be_year, p.name, o.code, r.code, p.kind, p.state, p.approved_budget,
               p.rationale, p.contact_name, p.contact_phone, p.created_at
        FROM project p JOIN fiscal_year f ON f.id = p.fiscal_year_id
        JOIN org_unit o ON o.id = p.owner_unit_id JOIN org_unit r ON r.id = p.responsible_unit_id
        ORDER BY p.code, f.be_year""",
    "steps": """
        SELECT p.code, f.be_year, s.position, s.name, s.weight, s.planned_start, s.planned_end
        FROM plan_step s JOIN project p ON p.id = s.project_id
        JOIN fiscal_year f ON f.id = p.fiscal_year_id ORDER BY p.code, f.be_year, s.position""",
    "results": """
        SELECT p.code, f.be_year, s.position, u.code, r.state, r.completion,
               r.accepted_completion, r.submitted_at, r.reviewed_at, r.review_reason
        FROM step_result r JOIN plan_step s ON s.id = r.step_id
        JOIN project p ON p.id = s.project_id JOIN fiscal_year f ON f.id = p.fiscal_year_id
        JOIN org_unit u ON u.id = r.unit_id ORDER BY p.code, f.be_year, s.position, u.code""",
    "budget": """
        SELECT p.code, f.be_year, u.code, a.amount, a.state, i.amount, i.state, i.paid_on
        FROM allocation a JOIN project p ON p.id = a.project_id
        JOIN fiscal_year f ON f.id = p.fiscal_year_id JOIN org_unit u ON u.id = a.recipient_unit_id
        LEFT JOIN installment i ON i.allocation_id = a.id
        ORDER BY p.code, f.be_year, u.code, i.requested_at""",
    "kpis": """
        SELECT k.code, f.be_year, k.name, k.target, q.quarter, q.value, q.numerator
        FROM kpi k JOIN fiscal_year f ON f.id = k.fiscal_year_id
        JOIN kpi_quarter_result q ON q.kpi_id = k.id ORDER BY k.code, f.be_year, q.quarter""",
    "evaluations": """
        SELECT p.code, k.code, e.quarter, e.state, e.score, e.published_at
        FROM evaluation e LEFT JOIN project p ON p.id = e.project_id
        LEFT JOIN kpi k ON k.id = e.kpi_id
        ORDER BY p.code, k.code, e.fiscal_year_id, e.quarter""",
    "people": """
        SELECT u.email, u.name, u.phone, ra.role, o.code FROM app_user u
        JOIN role_assignment ra ON ra.user_id = u.id JOIN org_unit o ON o.id = ra.unit_id
        ORDER BY u.email, ra.role, o.code""",
    "audit": """
        SELECT action, object_type, from_state, to_state, count(*) FROM audit_entry
        WHERE action <> 'generate.data' GROUP BY action, object_type, from_state, to_state
        ORDER BY action, object_type, from_state, to_state""",
}


def checksums(session: Session) -> dict[str, str]:
    sums = {}
    for name, query in CHECKSUMS.items():
        digest = hashlib.sha256()
        for row in session.execute(text(query)):
            digest.update(repr(tuple(row)).encode())
        sums[name] = digest.hexdigest()
    return sums


def scalar(session: Session, sql: str) -> object:
    return session.execute(text(sql)).scalar()


@pytest.fixture
def generated(session: Session) -> Session:
    generate(session, SMALL)
    return session


def test_same_seed_same_data(session: Session) -> None:
    first = session.begin_nested()
    generate(session, SMALL)
    once = checksums(session)
    first.rollback()
    second = session.begin_nested()
    generate(session, SMALL)
    again = checksums(session)
    second.rollback()
    assert once == again
    other = session.begin_nested()
    generate(session, GenerateOptions(**{**SMALL.__dict__, "seed": 8}))
    assert checksums(session)["steps"] != once["steps"]
    other.rollback()


def test_demo_and_every_row_before_stay_as_they_were(session: Session) -> None:
    maxima = {
        table.name: session.execute(select(func.max(table.c.id))).scalar() or 0
        for table in Base.metadata.sorted_tables
        if "id" in table.c
    }

    def old_rows() -> dict[str, list[tuple[object, ...]]]:
        return {
            table.name: [
                tuple(row)
                for row in session.execute(
                    select(table).where(table.c.id <= maxima[table.name]).order_by(table.c.id)
                )
            ]
            for table in Base.metadata.sorted_tables
            if "id" in table.c
        }

    before = old_rows()
    generate(session, SMALL)
    assert old_rows() == before
    demo_steps = session.execute(
        text(
            "SELECT s.position, s.weight FROM plan_step s JOIN project p ON p.id = s.project_id "
            "WHERE p.code = '50230000-3598' ORDER BY s.position"
        )
    ).all()
    assert [tuple(row) for row in demo_steps] == [(n, Decimal("20.00")) for n in range(1, 6)]


def test_weights_sum_to_100_and_steps_fit_the_year(generated: Session) -> None:
    sums = generated.execute(
        select(PlanStep.project_id, func.sum(PlanStep.weight), func.count()).group_by(
            PlanStep.project_id
        )
    ).all()
    assert len(sums) == SMALL.projects + 1  # and the demo's
    assert {total for _code, total, _count in sums} == {Decimal("100.00")}
    assert all(5 <= count <= 15 for _code, _total, count in sums)
    outside = scalar(
        generated,
        "SELECT count(*) FROM plan_step s JOIN project p ON p.id = s.project_id "
        "JOIN fiscal_year f ON f.id = p.fiscal_year_id "
        "WHERE s.planned_start < f.starts_on OR s.planned_end > f.ends_on "
        "OR s.planned_start > s.planned_end",
    )
    assert outside == 0
    steps = scalar(generated, "SELECT count(*) FROM plan_step")
    assert isinstance(steps, int) and steps >= 5 * SMALL.projects


def test_money_never_exceeds_what_it_comes_from(generated: Session) -> None:
    over_budget = scalar(
        generated,
        "SELECT count(*) FROM (SELECT p.id FROM project p JOIN allocation a "
        "ON a.project_id = p.id GROUP BY p.id, p.approved_budget "
        "HAVING sum(a.amount) > p.approved_budget) AS x",
    )
    over_allocation = scalar(
        generated,
        "SELECT count(*) FROM (SELECT a.id FROM allocation a JOIN installment i "
        "ON i.allocation_id = a.id GROUP BY a.id, a.amount HAVING sum(i.amount) > a.amount) AS x",
    )
    paid_before_approval = scalar(
        generated,
        "SELECT count(*) FROM installment i WHERE i.state IN ('approved', 'paid') AND NOT EXISTS "
        "(SELECT 1 FROM approval a WHERE a.subject_type = 'installment' AND a.subject_id = i.id)",
    )
    assert (over_budget, over_allocation, paid_before_approval) == (0, 0, 0)
    assert scalar(generated, "SELECT count(*) FROM installment") > 0


def test_every_state_appears(generated: Session) -> None:
    def states(table: str) -> set[str]:
        return set(generated.execute(text(f"SELECT DISTINCT state FROM {table}")).scalars())

    assert states("step_result") == {
        "not_started",
        "in_progress",
        "submitted",
        "accepted",
        "returned",
    }
    assert {"draft", "submitted", "locked", "closed"} <= states("project")
    assert {"paid", "requested"} <= states("installment")
    assert {"published", "open"} <= states("evaluation")


def test_codes_look_like_the_real_ones(generated: Session) -> None:
    units = generated.execute(text("SELECT code, kind FROM org_unit")).all()
    districts = [code for code, kind in units if kind == "district_office"]
    assert len(districts) >= SMALL.districts  # the demo's district may be one of them
    assert all(re.fullmatch(r"50\d{2}0000", code) for code in districts)
    assert all(
        re.fullmatch(r"\d{8}-\d+", code)
        for code in generated.execute(text("SELECT code FROM project")).scalars()
    )
    assert all(
        re.fullmatch(r"\d{4}-\d{3,4}", code)
        for code in generated.execute(text("SELECT code FROM kpi")).scalars()
    )


def test_references_all_resolve(generated: Session) -> None:
    """The PostgreSQL load runs with foreign key triggers off: prove every reference holds."""
    dangling = {}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            column = fk.parent
            target = fk.column.table.alias("target").c[fk.column.name]
            count = generated.execute(
                select(func.count())
                .select_from(table)
                .where(
                    column.is_not(None),
                    ~select(target).where(target == column).exists(),
                )
            ).scalar()
            if count:
                dangling[f"{table.name}.{column.name}"] = count
    assert dangling == {}


def test_audit_and_outbox_follow_the_rows(generated: Session) -> None:
    reviewed = scalar(
        generated,
        "SELECT count(*) FROM step_result r JOIN plan_step s ON s.id = r.step_id "
        "JOIN project p ON p.id = s.project_id "
        "WHERE r.reviewed_at IS NOT NULL AND p.code <> '50230000-3598'",  # the demo's own
    )
    audited = scalar(
        generated,
        "SELECT count(*) FROM audit_entry WHERE action IN ('result.accept', 'result.return')",
    )
    assert reviewed == audited
    unrelayed = scalar(generated, "SELECT count(*) FROM outbox_event WHERE relayed_at IS NULL")
    assert unrelayed == 0
    assert scalar(generated, "SELECT count(*) FROM outbox_event") > 0
    runs = generated_runs(generated)
    assert runs[-1]["seed"] == SMALL.seed
    assert runs[-1]["projects"] == SMALL.projects


def test_refuses_a_second_run_unless_told(generated: Session) -> None:
    with pytest.raises(GeneratedDataExists):
        generate(generated, SMALL)
    generate(generated, GenerateOptions(**{**SMALL.__dict__, "projects": 20, "mode": "append"}))
    projects = scalar(generated, "SELECT count(*) FROM project")
    assert projects == SMALL.projects + 20 + 1
    assert len(generated_runs(generated)) == 2


def test_parse_years() -> None:
    assert parse_years("2566-2568") == (2566, 2567, 2568)
    assert parse_years("2568, 2566") == (2566, 2568)
    for bad in ("", "2023", "2568-2566"):
        with pytest.raises(ValueError):
            parse_years(bad)


@pytest.fixture
def own_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own: the command commits."""
    url = create_database(tmp_path, "generate")
    saved = dict(os.environ)
    os.environ.update(app_environment(tmp_path / "instance", url))
    try:
        flask_app = create_app({"TESTING": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    command.upgrade(alembic_config(url), "head")
    yield flask_app
    flask_app.extensions["tidtam.db"].dispose()
    drop_database(url)


def test_command_commits_and_refuses_twice(own_app: Flask) -> None:
    runner = own_app.test_cli_runner()
    arguments = ["generate-data", "--projects", "30", "--districts", "2", "--departments", "1"]
    arguments += ["--schools-per-network", "1", "--years", "2566"]
    result = runner.invoke(args=arguments)
    assert result.exit_code == 0, result.output
    assert "Generated" in result.output
    again = runner.invoke(args=arguments)
    assert again.exit_code != 0
    assert "--append" in again.output or "append" in again.output
    truncated = runner.invoke(args=[*arguments, "--truncate", "--seed", "3"])
    assert truncated.exit_code == 0, truncated.output
    engine: Engine = own_app.extensions["tidtam.db"]
    with engine.connect() as conn:
        runs = generated_runs(conn)
        projects = conn.execute(text("SELECT count(*) FROM project")).scalar()
    assert [run["seed"] for run in runs] == [3]
    assert projects == 30
    assert GENERATOR_ACTION == "generate.data"


_IMPORTED_BY_THE_APP = """
import sys
from service import create_app
app = create_app()
print(sorted(name for name in sys.modules if name == "tools" or name.startswith("tools.")))
"""


def test_the_service_runs_without_the_generator(tmp_path: Path, database_url: str) -> None:
    """The generator is a tool, not the runtime: building the app (web or worker) imports
    nothing of tools/, and the production image, which has no tools/, runs."""
    shown = subprocess.run(
        [sys.executable, "-c", _IMPORTED_BY_THE_APP],
        cwd=ROOT,
        env={**os.environ, **app_environment(tmp_path, database_url)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shown.stdout.strip().splitlines()[-1] == "[]"


def test_every_project_has_its_figures(generated: Session) -> None:
    """Rows loaded in bulk pass no listener: the generator computes every project's figures,
    and a full recompute finds nothing missing or drifted."""
    from service.projects.figures import figures_today, repair_figures

    found = repair_figures(generated.connection(), figures_today())
    assert found.checked == scalar(generated, "SELECT count(*) FROM project")
    assert (found.missing, found.drifted) == (0, 0)


def test_every_result_carries_its_steps_planned_end(generated: Session) -> None:
    """Rows loaded in bulk pass no listener: the generator writes each result's copy of its
    step's planned end (what the result lists sort on) itself."""
    from service.projects.due_on import drifted_results

    assert scalar(generated, "SELECT count(*) FROM step_result") > 0
    assert drifted_results(generated) == 0
