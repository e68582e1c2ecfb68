"""Migrations: up from empty, in step with the models, and down to nothing again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.cli import alembic_config
from service.core.db import make_engine
from service.models import Base
from tests.conftest import create_database, drop_database


def test_upgrade_matches_models_and_downgrade_to_base(tmp_path: Path) -> None:
    url = create_database(tmp_path, "migrations")
    engine = make_engine(url)
    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())

        command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        command.upgrade(config, "head")  # and back up again, cleanly
    finally:
        engine.dispose()
        drop_database(url)


def test_revision_files_are_dated() -> None:
    versions = Path(__file__).parent.parent / "migrations" / "versions"
    names = sorted(p.name for p in versions.glob("*.py"))
    assert names
    for name in names:
        assert name[:8].isdigit() and name[8] == "_", name
