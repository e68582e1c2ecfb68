"""A real worker process runs a real task through each broker: the embedded SQLite transport
always, Redis when the run has it (TEST_REDIS_URL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from celery import Celery

from service import create_app
from tests.conftest import app_environment, on_postgres, on_redis
from tests.workers import running_worker

pytestmark = pytest.mark.worker


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_worker_runs_the_health_task(
    broker: str, database_url: str, tmp_path: Path, app: object
) -> None:
    if broker == "redis" and not on_redis():
        pytest.skip("TEST_REDIS_URL is not set: the Redis run covers this")
    env = app_environment(tmp_path, database_url)
    if broker == "embedded":
        env.pop("REDIS_URL", None)
        env.pop("CELERY_KEY_PREFIX", None)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        producer_app = create_app({"TESTING": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    celery: Celery = producer_app.extensions["celery"]
    expected_scheme = "redis" if broker == "redis" else "sqla+sqlite"
    assert celery.conf.broker_url.startswith(expected_scheme)

    with running_worker(env, log=tmp_path / "worker.log") as worker:
        result = celery.send_task("tidtam.health")
        try:
            answer = result.get(timeout=60)
        finally:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    assert answer["database"] is True
    assert answer["dialect"] == ("postgresql" if on_postgres() else "sqlite")
    celery.close()
