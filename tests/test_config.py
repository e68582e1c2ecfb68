"""Configuration from the environment, and which stack the app says it runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, load_config


def test_embedded_default_uses_sqlite_for_data_and_broker(tmp_path: Path) -> None:
    config = load_config(str(tmp_path), env={})
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'tidtam.sqlite'}"
    assert config["CELERY"]["broker_url"] == f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    assert config["TIMEZONE"] == "Asia/Bangkok"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_config(str(tmp_path), env={})["SECRET_KEY"]
    second = load_config(str(tmp_path), env={})["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_a_missing_secret_key(tmp_path: Path) -> None:
    env = {"TIDTAM_ENV": "production", "DATABASE_URL": "postgresql://db/tidtam"}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), env=env)
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config(str(tmp_path), env={"TIDTAM_ENV": "production", "SECRET_KEY": "x" * 40})


def test_postgres_and_redis_from_the_environment(tmp_path: Path) -> None:
    config = load_config(
        str(tmp_path),
        env={"DATABASE_URL": "postgres://u:p@db/tidtam", "REDIS_URL": "redis://cache:6379/0"},
    )
    assert config["DATABASE_URL"] == "postgresql+psycopg://u:p@db/tidtam"
    assert config["CELERY"]["broker_url"] == "redis://cache:6379/0"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"


def test_the_app_logs_its_stack(app, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    from service import create_app

    with caplog.at_level("INFO", logger="tidtam"):
        create_app({"TESTING": True})
    assert any("Tidtam on database" in r.getMessage() for r in caplog.records)
