"""Test fixtures: a real database (SQLite by default, PostgreSQL with TEST_DATABASE_URL), the
schema built once per run by the migrations, the demo loaded once, and each test inside a
transaction that is rolled back at its end.

TEST_DATABASE_URL names a PostgreSQL server (any database on it): the run creates a database of
its own there and drops it at the end, so two runs never share state. TEST_REDIS_URL points the
broker at Redis, under a key prefix of the run's own.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service import create_app
from service.cli import alembic_config
from service.core.db import db, make_engine
from service.core.i18n import compile_catalogs
from service.demo.load import load_demo

# `make` compiles the Thai catalog too; this covers pytest run by hand after editing the .po.
compile_catalogs()

RUN_ID = uuid.uuid4().hex[:8]
LEGACY_PAGE = Path(__file__).parent / "data" / "legacy" / "project-50230000-3598.txt"


def on_postgres() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL"))


def on_redis() -> bool:
    return bool(os.environ.get("TEST_REDIS_URL"))


def _server_engine(url: str) -> Engine:
    server = make_url(url).set(drivername="postgresql+psycopg")
    return make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")


def create_database(tmp: Path, name: str) -> str:
    """A new, empty database for this run: a PostgreSQL database or an SQLite file."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp / (name + '.sqlite')}"
    server = _server_engine(url)
    database = f"tidtam_test_{RUN_ID}_{name}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    server.dispose()
    return (
        make_url(url)
        .set(drivername="postgresql+psycopg", database=database)
        .render_as_string(hide_password=False)
    )


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    database = make_url(url).database
    server = _server_engine(os.environ["TEST_DATABASE_URL"])
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    server.dispose()


def app_environment(instance: Path, database_url: str) -> dict[str, str]:
    """The environment a Tidtam process (web or worker) of this test run gets."""
    env = {
        "TIDTAM_INSTANCE": str(instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + RUN_ID,
    }
    if on_redis():
        env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
        env["CELERY_KEY_PREFIX"] = f"tidtam-test-{RUN_ID}:"
    return env


@pytest.fixture(autouse=True)
def _command_line_language() -> Iterator[None]:
    """`--lang` names the process's language for Click's own words (service.core.terminal); a
    command invoked in a test leaves it as it found it."""
    before = os.environ.get("LANGUAGE")
    yield
    if before is None:
        os.environ.pop("LANGUAGE", None)
    else:
        os.environ["LANGUAGE"] = before


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_dir: Path) -> Iterator[str]:
    url = create_database(instance_dir, "main")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def app(instance_dir: Path, database_url: str) -> Iterator[Flask]:
    """The app on this run's database, migrated to head, with the demo loaded and committed."""
    saved = dict(os.environ)
    os.environ.update(app_environment(instance_dir, database_url))
    try:
        flask_app = create_app({"TESTING": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with flask_app.app_context():
        command.upgrade(alembic_config(database_url), "head")
        load_demo(db.session)
        db.session.commit()
        db.session.remove()
    yield flask_app
    flask_app.extensions["tidtam.db"].dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside a transaction rolled back after the
    test. Requests made by the test client get sessions of their own (one per request, as in
    production) on the same connection, so they see what the test wrote and vice versa."""
    engine: Engine = app.extensions["tidtam.db"]
    connection = engine.connect()
    transaction = connection.begin()
    db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    test_session = db.sessionmaker()
    try:
        yield test_session
    finally:
        test_session.close()
        transaction.rollback()
        connection.close()
        db.sessionmaker.configure(bind=engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def client(app: Flask, session: Session) -> FlaskClient:
    return app.test_client()


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on `path` (the tests run with CSRF protection on)."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, email: str, password: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


DEMO_PASSWORDS = {
    "school@demo.tidtam.local": "demo-school-2566",
    "officer@demo.tidtam.local": "demo-officer-2566",
    "approver@demo.tidtam.local": "demo-approver-2566",
    "evaluator@demo.tidtam.local": "demo-evaluator-2566",
    "admin@demo.tidtam.local": "demo-admin-2566",
}


@pytest.fixture
def login_as(client: FlaskClient):  # type: ignore[no-untyped-def]
    def _login(role: str) -> FlaskClient:
        email = f"{role}@demo.tidtam.local"
        login(client, email, DEMO_PASSWORDS[email])
        return client

    return _login
