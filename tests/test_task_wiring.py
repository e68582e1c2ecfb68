"""The service and the worker agree on the task names, and the listeners are all registered.

The service knows tasks only by name (`service.core.tasks.TaskName`); a name the service sends
that no worker registers is a message that waits in its queue for ever, and a beat entry that
names no task fails every tick. The worker app is loaded as `celery -A workers.app` loads it,
in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from service.core.listeners import listeners, register_listeners
from service.core.tasks import TASK_NAMES, TaskName
from tests.conftest import app_environment

ROOT = Path(__file__).resolve().parent.parent

_SHOW_WORKER = """
import json
from workers.app import app
print(json.dumps({
    "tasks": sorted(app.tasks),
    "beat": {entry: spec["task"] for entry, spec in app.conf.beat_schedule.items()},
}))
"""


@pytest.fixture(scope="module")
def worker_app(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> dict[str, object]:
    """The registered task names and the beat schedule of `workers.app`."""
    env = app_environment(tmp_path_factory.mktemp("wiring"), database_url)
    shown = subprocess.run(
        [sys.executable, "-c", _SHOW_WORKER],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, object] = json.loads(shown.stdout.strip().splitlines()[-1])
    return found


def test_the_names_are_the_tidtam_ones() -> None:
    assert TASK_NAMES
    assert all(name.startswith("tidtam.") for name in TASK_NAMES)
    assert TaskName.OUTBOX_RELAY in TASK_NAMES


@pytest.mark.parametrize("name", sorted(TASK_NAMES))
def test_every_name_the_service_knows_is_registered_on_the_worker(
    name: str, worker_app: dict[str, object]
) -> None:
    tasks = worker_app["tasks"]
    assert isinstance(tasks, list)
    assert name in tasks


def test_every_beat_entry_names_a_registered_task(worker_app: dict[str, object]) -> None:
    beat = worker_app["beat"]
    tasks = worker_app["tasks"]
    assert isinstance(beat, dict) and isinstance(tasks, list)
    assert beat, "the worker has no beat schedule"
    unregistered = {entry: name for entry, name in beat.items() if name not in tasks}
    assert unregistered == {}
    assert set(beat.values()) <= TASK_NAMES


def test_no_worker_task_goes_unnamed(worker_app: dict[str, object]) -> None:
    """Every Tidtam task on the worker has its name in `TaskName` (Celery's own `celery.*`
    tasks aside): a task registered under any other name is one the service cannot send."""
    tasks = worker_app["tasks"]
    assert isinstance(tasks, list)
    ours = {name for name in tasks if not name.startswith("celery.")}
    assert ours - TASK_NAMES == set()


def test_every_listener_is_registered_once_by_the_app(app: Flask) -> None:
    register_listeners()  # a second call (a script, the worker) changes nothing
    for target, name, listener in listeners():
        assert event.contains(target, name, listener), (target, name, listener)
    wanted = listeners()
    assert len({(id(t), n, id(f)) for t, n, f in wanted}) == len(wanted)
