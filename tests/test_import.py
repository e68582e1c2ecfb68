"""Importing legacy pages: the reference page into an empty database is the demo project; into
the demo it changes nothing; twice changes nothing; a page is imported whole or not at all;
incomplete pages are reported and never imported; the variations real pages show import."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cli import alembic_config
from service.core.db import make_engine
from service.demo import legacy_project as legacy
from service.evaluations.models import Evaluation
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.legacy import parse_path
from service.legacy.importer import IMPORT_ACTION, LegacyImporter, import_pages
from service.legacy.parser import ParsedPage, Step
from service.models import AuditEntry, Base
from service.projects.due_on import drifted_results
from service.projects.models import Project
from service.projects.queries import project_progress
from service.strategy.models import StrategyNode
from tests.conftest import LEGACY_PAGE, create_database, drop_database
from tests.project_data import participants_derived, participants_recorded

DATA = LEGACY_PAGE.parent
INCOMPLETE = [
    "truncated-before-plan.txt",
    "truncated-in-plan.txt",
    "variant-no-steps.txt",
    "variant-bad-date.txt",
    "not-a-project.txt",
    "not-found.html",
]


def page(name: str = LEGACY_PAGE.name) -> ParsedPage:
    (parsed,) = list(parse_path(DATA / name))
    return parsed


def counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }


def facts(session: Session, code: str = legacy.CODE, year: int = legacy.FISCAL_YEAR) -> Any:
    """Everything the legacy page shows about a project, as stored."""
    project = session.scalars(
        select(Project).join(FiscalYear).where(Project.code == code, FiscalYear.be_year == year)
    ).one()

    def chain(node: StrategyNode | None) -> list[tuple[str, int, str]]:
        path = []
        while node is not None:
            path.insert(0, (node.code, node.level, node.name))
            node = node.parent
        return path

    kpis = session.scalars(select(Kpi).where(Kpi.projects.contains(project))).all()
    evaluations = session.scalars(
        select(Evaluation).where(Evaluation.project_id == project.id).order_by(Evaluation.quarter)
    ).all()
    return {
        "identity": (project.code, project.fiscal_year.be_year, project.name, project.kind),
        "owner": (project.owner_unit.code, project.owner_unit.name_th, project.owner_unit.kind),
        "division": (project.responsible_unit.code, project.responsible_unit.name_th),
        "unit_codes": project.unit_codes,
        "rationale": project.rationale,
        "objectives": [(o.position, o.text) for o in project.objectives],
        "targets": [(t.position, t.kind, t.text) for t in project.targets],
        "steps": [
            (s.position, s.name, s.weight, s.planned_start, s.planned_end) for s in project.steps
        ],
        "reports": [
            (r.reported_on, r.percent, r.narrative, r.problems, r.obstacles)
            for r in project.reports
        ],
        "strategy": [chain(node) for node in project.strategies],
        "kpis": [
            (
                k.code,
                k.name,
                k.target,
                k.unit_label,
                k.measure_kind,
                k.kpi_type,
                k.level,
                [(q.quarter, q.value, q.numerator, q.denominator) for q in k.results],
            )
            for k in kpis
        ],
        "evaluations": [(e.quarter, e.state, e.score) for e in evaluations],
        "progress": project_progress(session, project.id),
    }


@pytest.fixture
def empty_session(tmp_path: Path) -> Iterator[Session]:
    """A session on a database of its own: migrated, nothing loaded."""
    url = create_database(tmp_path, "import")
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()
    drop_database(url)


def test_the_reference_page_into_an_empty_database_is_the_demo_project(
    empty_session: Session, session: Session
) -> None:
    report = LegacyImporter(empty_session).import_page(page())
    assert report.outcome == "created", report
    empty_session.commit()
    imported = facts(empty_session)
    assert imported == facts(session)  # what service/demo/load.py made
    # … and what the legacy page (typed into service/demo/legacy_project.py) says.
    assert imported["identity"][:3] == (legacy.CODE, legacy.FISCAL_YEAR, legacy.NAME)
    assert imported["owner"][1] == legacy.AGENCY
    assert imported["division"][1] == legacy.DIVISION
    assert imported["unit_codes"] == legacy.UNIT_CODES
    assert imported["rationale"] == legacy.RATIONALE
    assert [text for _n, text in imported["objectives"]] == legacy.OBJECTIVES
    assert [(kind.value, text) for _n, kind, text in imported["targets"]] == legacy.TARGETS
    assert [(name, start.isoformat(), end.isoformat()) for _n, name, _w, start, end in imported[
        "steps"
    ]] == legacy.STEPS  # fmt: skip
    assert {weight for _n, _name, weight, _s, _e in imported["steps"]} == {Decimal("20.00")}
    assert imported["strategy"] == [legacy.STRATEGY_PATH]
    assert imported["kpis"][0][:2] == (legacy.KPI["code"], legacy.KPI["name"])
    assert imported["evaluations"][0][2] == Decimal(legacy.EVALUATION["score"])
    assert imported["progress"] == Decimal(legacy.REPORT["percent"])
    # Its results were inserted past the ORM: they carry their steps' planned ends themselves.
    assert drifted_results(empty_session) == 0


def test_the_reference_page_into_the_demo_changes_nothing(session: Session) -> None:
    before = counts(session)
    before_facts = facts(session)
    for name in (LEGACY_PAGE.name, "project-50230000-3598.html"):
        report = LegacyImporter(session).import_page(page(name))
        assert report.outcome == "unchanged", report
    assert counts(session) == before
    assert facts(session) == before_facts


def test_importing_twice_changes_nothing(session: Session) -> None:
    pages = [p for p in parse_path(DATA) if p.importable]
    first = import_pages(session, pages)
    assert first.count("failed") == 0, [p for p in first.pages if p.outcome == "failed"]
    assert first.count("created") >= 10
    after_first = counts(session)
    audits = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == IMPORT_ACTION)
    )
    # the new projects' results are in project_participant, as results added any other way
    assert participants_recorded(session) == participants_derived(session)
    second = import_pages(session, pages)
    assert {p.outcome for p in second.pages} == {"unchanged"}
    assert counts(session) == after_first
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == IMPORT_ACTION)
        )
        == audits
    )


@pytest.mark.parametrize("name", INCOMPLETE)
def test_incomplete_pages_are_reported_and_never_imported(session: Session, name: str) -> None:
    before = counts(session)
    report = LegacyImporter(session).import_page(page(name))
    assert report.outcome == "skipped"
    assert report.reasons
    assert counts(session) == before


def test_a_page_that_fails_leaves_nothing_behind(session: Session) -> None:
    before = counts(session)
    broken = replace(
        page(),
        code="50990000-1",  # a new agency, units, project …
        agency="สำนักงานเขตทดสอบ",
        unit_codes=["50990700", "50990700"],
        steps=[Step(order=1, name="ขั้นเดียว", weight="60", start="2022-10-01", end="2022-10-02")],
    )
    report = LegacyImporter(session).import_page(broken)
    assert report.outcome == "failed"
    assert "100" in report.reasons[0]
    assert counts(session) == before
    # The importer goes on with the next page after a failure.
    again = LegacyImporter(session)
    assert again.import_page(broken).outcome == "failed"
    assert again.import_page(replace(page(), code="50990000-2")).outcome == "created"


def test_a_published_score_is_not_overwritten(session: Session) -> None:
    assert page().evaluation is not None
    other = replace(page(), evaluation=replace(page().evaluation, score="80"))  # type: ignore[type-var]
    report = LegacyImporter(session).import_page(other)
    assert report.outcome == "failed"
    assert "published" in report.reasons[0]


def test_variations_import(session: Session) -> None:
    pages = [p for p in parse_path(DATA) if p.importable and "variant" in p.source]
    summary = import_pages(session, pages)
    reports = {Path(r.source).name: r for r in summary.pages}
    assert {r.outcome for r in reports.values()} <= {"created", "unchanged"}, reports
    by_code = {p.code: p for p in pages}
    for code, parsed in by_code.items():
        assert parsed.code is not None and parsed.fiscal_year is not None
        stored = facts(session, parsed.code, parsed.fiscal_year)
        assert len(stored["steps"]) == len(parsed.steps), code
        assert sum(weight for _n, _name, weight, _s, _e in stored["steps"]) == 100
        assert len(stored["reports"]) == len(parsed.reports), code
        assert len(stored["kpis"]) == len(parsed.kpis), code
        assert [level[-1][0] for level in stored["strategy"]] == [
            s.code for s in parsed.strategies if not any(
                o.code.startswith(s.code + ".") for o in parsed.strategies
            )
        ]  # fmt: skip
    contact = session.scalars(
        select(Project).where(Project.code == page("variant-contact-two.txt").code)
    ).one()
    assert contact.contact_name and contact.contact_phone
    assert drifted_results(session) == 0


def test_command_dry_run_json_changes_nothing(app: Flask, session: Session) -> None:
    before = counts(session)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-legacy", str(DATA), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(list(DATA.glob("*.*")))
    first = next(line for line in lines if line["source"].endswith(LEGACY_PAGE.name))
    assert first["code"] == legacy.CODE and first["import"]["outcome"] == "unchanged"
    assert counts(session) == before


def test_command_imports_a_zip_and_summarises(app: Flask, session: Session, tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "pages.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("variant-steps-12.txt", "truncated-in-plan.txt"):
            zipped.write(DATA / name, name)
    result = app.test_cli_runner().invoke(args=["import-legacy", str(archive)])
    assert result.exit_code == 0, result.output
    assert "created          1" in result.output
    assert "skipped          1" in result.output
    assert "truncated-in-plan.txt" in result.output
    code = page("variant-steps-12.txt").code
    assert session.scalar(select(func.count()).select_from(Project).where(Project.code == code))


def test_dates_stay_inside_their_year(session: Session) -> None:
    import_pages(session, [page("variant-dates-mixed.txt")])
    parsed = page("variant-dates-mixed.txt")
    assert parsed.code and parsed.fiscal_year
    steps = facts(session, parsed.code, parsed.fiscal_year)["steps"]
    assert all(isinstance(start, date) for _n, _name, _w, start, _e in steps)
    assert os.path.exists(DATA / "variant-dates-mixed.txt")
