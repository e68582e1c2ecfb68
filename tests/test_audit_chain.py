"""The audit log's hash chain: every committed entry is chained, a row changed or removed with
SQL is named by `flask audit verify`, existing rows are chained by the migration, and writers
committing at once on PostgreSQL leave one unbroken chain."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from service.audit.chain import GENESIS, STREAM, fields_of, link_hash, verify
from service.audit.models import AuditChainHead, AuditEntry
from service.audit.operations import record
from service.cli import alembic_config
from service.core.db import make_engine
from tests.conftest import create_database, drop_database, on_postgres
from tests.test_thai_refusals import english_in

REVISION = "54df158fef32"


def _write(session: Session, count: int, reason: str = "") -> list[AuditEntry]:
    entries = [
        record(
            session,
            action="project.update",
            object_type="project",
            object_id=n,
            changes={"budget": "90000.00", "name": "โครงการ ๗"},
            reason=reason or f"เหตุผล {n}",
        )
        for n in range(count)
    ]
    session.commit()
    return entries


def _unprotected(session: Session) -> None:
    """What someone with the database's owner account would do first: switch off the
    append-only trigger (inside the test's transaction, rolled back after it)."""
    if on_postgres():
        session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))


def test_committed_entries_are_chained_and_the_chain_verifies(app: Flask, session: Session) -> None:
    entries = _write(session, 3)
    seqs = [e.chain_seq for e in entries]
    assert None not in seqs and seqs == list(range(seqs[0], seqs[0] + 3))  # type: ignore[operator]
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
        assert after.entry_hash == link_hash(before.entry_hash or "", fields_of(after))
    head = session.get(AuditChainHead, STREAM)
    assert head is not None and head.last_hash == entries[-1].entry_hash
    result = app.test_cli_runner().invoke(args=["audit", "--lang", "en", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    # Without --lang, the deployment's language (Thai here), and no English in it.
    thai = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert thai.exit_code == 0 and "สมบูรณ์" in thai.output, thai.output
    assert not english_in(thai.output), thai.output


def test_the_commit_chains_the_sessions_own_entries_without_reading_them_back(
    app: Flask, session: Session
) -> None:
    """An entry written in a savepoint rolled back (a refused item of a bulk action) is not
    chained; the others are, in the order written, and the commit sends no SELECT of the
    audit entries (it chains the objects it holds): the head's lock and two updates."""
    from tests.sql_count import counting

    kept = record(session, action="project.update", object_type="project", object_id=1)
    savepoint = session.begin_nested()
    dropped = record(session, action="project.update", object_type="project", object_id=2)
    savepoint.rollback()
    later = record(session, action="project.update", object_type="project", object_id=3)
    session.flush()
    with counting(app.extensions["tidtam.db"]) as sent:
        session.commit()
    assert dropped.chain_seq is None
    assert kept.chain_seq is not None and later.chain_seq == kept.chain_seq + 1
    assert later.prev_hash == kept.entry_hash
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT") and "audit_entry" in s]
    assert reads == [], sent
    assert any("audit_chain_head" in s for s in sent), sent  # the counter sees the commit
    assert verify(session).broken is None


def test_a_row_changed_with_sql_is_named(app: Flask, session: Session) -> None:
    entries = _write(session, 3)
    _unprotected(session)
    target = entries[1]
    session.execute(
        text("UPDATE audit_entry SET reason = 'ไม่มีอะไร' WHERE id = :id"), {"id": target.id}
    )
    verdict = verify(session)
    assert verdict.broken is not None
    assert verdict.broken.entry_id == target.id
    assert "content" in verdict.broken.problem
    result = app.test_cli_runner().invoke(args=["audit", "--lang", "en", "verify"])
    assert result.exit_code == 1
    assert f"entry {target.id} " in result.output and "does not match its hash" in result.output
    thai = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert thai.exit_code == 1
    assert f"รายการ {target.id} " in thai.output and "ถูกแก้ไข" in thai.output, thai.output
    assert not english_in(thai.output), thai.output


def test_a_row_removed_or_slipped_in_is_named(session: Session) -> None:
    entries = _write(session, 3)
    _unprotected(session)
    session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[1].id})
    verdict = verify(session)
    assert verdict.broken is not None and verdict.broken.entry_id == entries[2].id
    assert "missing" in verdict.broken.problem

    session.rollback()
    _write(session, 1)
    session.execute(
        text(
            "INSERT INTO audit_entry (occurred_at, action, object_type, object_id, changes,"
            " reason) VALUES (CURRENT_TIMESTAMP, 'x', 'project', 1, '{}', 'slipped in')"
        )
    )
    slipped = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    # A later commit chains its own entries only: the row slipped in stays outside.
    _write(session, 1)
    verdict = verify(session)
    assert verdict.broken is not None and verdict.broken.entry_id == slipped
    assert "outside" in verdict.broken.problem


def test_the_last_entry_removed_is_caught_by_the_head(app: Flask, session: Session) -> None:
    entries = _write(session, 2)
    _unprotected(session)
    session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[-1].id})
    verdict = verify(session)
    assert verdict.broken is not None and "head" in verdict.broken.problem
    english = app.test_cli_runner().invoke(args=["audit", "--lang", "en", "verify"])
    assert english.exit_code == 1 and "broken at its head" in english.output, english.output
    thai = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert thai.exit_code == 1 and "หัวห่วงโซ่" in thai.output, thai.output
    assert not english_in(thai.output), thai.output


@pytest.fixture(scope="module")
def bare_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = create_database(tmp_path_factory.mktemp("chain"), "chain")
    yield url
    drop_database(url)


def test_the_migration_chains_existing_entries(bare_url: str) -> None:
    config = alembic_config(bare_url)
    command.upgrade(config, f"{REVISION}-1")
    engine = make_engine(bare_url)
    try:
        with engine.begin() as conn:
            for n in range(3):
                conn.execute(
                    text(
                        "INSERT INTO audit_entry (occurred_at, action, object_type, object_id,"
                        " changes, reason) VALUES (CURRENT_TIMESTAMP, 'project.update',"
                        " 'project', :n, '{\"a\": 1}', 'ก่อน')"
                    ),
                    {"n": n},
                )
        command.upgrade(config, REVISION)
        with Session(engine) as session:
            verdict = verify(session)
            assert verdict.broken is None and verdict.checked == 3
            first = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
            assert first is not None and first.prev_hash == GENESIS
        command.downgrade(config, f"{REVISION}-1")
        command.upgrade(config, "head")
    finally:
        engine.dispose()


@pytest.mark.skipif(not on_postgres(), reason="concurrent writers are tested on PostgreSQL")
def test_concurrent_writers_keep_one_chain(bare_url: str) -> None:
    command.upgrade(alembic_config(bare_url), "head")
    engine: Engine = make_engine(bare_url, pool_size=10, max_overflow=2)
    writers, commits, per_commit = 8, 5, 3
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            for _ in range(commits):
                with Session(engine) as session:
                    _write(session, per_commit)
        except BaseException as error:
            failures.append(error)

    try:
        with Session(engine) as session:
            before = verify(session).checked
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures, failures
        with Session(engine) as session:
            verdict = verify(session)
            assert verdict.broken is None, str(verdict.broken)
            assert verdict.checked == before + writers * commits * per_commit
    finally:
        engine.dispose()


def test_chain_fields_survive_a_text_round_trip(tmp_path: Path, session: Session) -> None:
    # What the export writes is what the hash covers: every field is text.
    (entry,) = _write(session, 1, reason="=SUM(A1)\nบรรทัดสอง")
    fields = fields_of(entry)
    assert all(isinstance(f, str) for f in fields)
    assert link_hash(entry.prev_hash or "", fields) == entry.entry_hash
