"""Migrations: up from empty, in step with the models, and down to nothing again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyotp
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect, text

from service.auth.second_factor import open_secret
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


def test_totp_secrets_are_encrypted_by_the_upgrade_and_opened_by_the_downgrade(
    tmp_path: Path, app: Flask
) -> None:
    """A deployment enrolled before the secrets were encrypted keeps its people's factors:
    the upgrade seals each base32 secret with the key from SECRET_KEY, the downgrade opens it."""
    url = create_database(tmp_path, "totp")
    engine = make_engine(url)
    plain = pyotp.random_base32()
    column = "SELECT totp_secret FROM app_user WHERE email = 'a@x.test'"
    try:
        with app.app_context():
            config = alembic_config(url)
            command.upgrade(config, "d4f6a8c0e2b3")
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO app_user (email, name, password_hash, language, active,"
                        " phone, session_version, totp_secret, created_at) VALUES ('a@x.test',"
                        " 'A', 'x', 'th', :yes, '', 1, :secret, :now)"
                    ),
                    {"yes": True, "secret": plain, "now": datetime.now(UTC)},
                )
            command.upgrade(config, "e7a1c3b5d9f2")
            with engine.connect() as conn:
                sealed = conn.scalar(text(column))
            assert sealed and plain not in sealed
            assert open_secret(sealed) == plain

            command.downgrade(config, "d4f6a8c0e2b3")
            with engine.connect() as conn:
                assert conn.scalar(text(column)) == plain
    finally:
        engine.dispose()
        drop_database(url)
