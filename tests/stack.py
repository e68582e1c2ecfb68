"""A Tidtam stack of its own for tests whose rows another process must see: a committed,
migrated database with the demo, the app that produces tasks, and the environment a worker
process gets (its own broker: an SQLite file, or a Redis key prefix of its own)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from celery import Celery
from flask import Flask

from service import create_app
from service.cli import alembic_config
from service.core.db import db
from service.demo.load import load_demo
from tests.conftest import RUN_ID, app_environment, create_database, drop_database, on_redis

T = TypeVar("T")


@dataclass
class Stack:
    app: Flask
    env: dict[str, str]
    database_url: str

    @property
    def celery(self) -> Celery:
        celery: Celery = self.app.extensions["celery"]
        return celery

    def send(self, name: str, *args: Any, **options: Any) -> None:
        """Send task `name` as beat or a request would (no result: see core.tasks)."""
        options.setdefault("ignore_result", True)
        with self.app.app_context():
            self.celery.send_task(name, args=args, **options)


def make_app(env: dict[str, str]) -> Flask:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return create_app({"TESTING": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def committed_stack(
    tmp_path: Path, name: str, *, demo: bool = True, **extra_env: str
) -> Iterator[Stack]:
    """A migrated database (with the demo, committed), its app and a worker environment.
    `extra_env` (e.g. a mail server, a Redis URL) applies to both the app and the worker."""
    url = create_database(tmp_path, name)
    env = app_environment(tmp_path, url)
    if on_redis():
        env["CELERY_KEY_PREFIX"] = f"tidtam-test-{RUN_ID}-{name}-{uuid.uuid4().hex[:6]}:"
    env.update(extra_env)
    if env.get("REDIS_URL") == "":
        env.pop("REDIS_URL")
        env.pop("CELERY_KEY_PREFIX", None)
    # `db` is one object per process: a second app rebinds its sessionmaker. Keep the test
    # run's settings to put back, and use SQLAlchemy's default join mode meanwhile (the
    # `session` fixture may have left its savepoint mode set).
    saved = dict(db.sessionmaker.kw)
    app = make_app(env)
    db.sessionmaker.configure(join_transaction_mode="conditional_savepoint")
    with app.app_context():
        command.upgrade(alembic_config(url), "head")
        if demo:
            load_demo(db.session)
        db.session.commit()
        db.session.remove()
    try:
        yield Stack(app, env, url)
    finally:
        app.extensions["celery"].close()
        app.extensions["tidtam.db"].dispose()
        db.sessionmaker.kw.clear()
        db.sessionmaker.kw.update(saved)
        drop_database(url)


def eventually(check: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.1) -> T:
    """Call `check` until it returns something truthy; return that. Raises AssertionError with
    the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"still {value!r} after {timeout}s"
    return value
