"""The worker's peak memory: `make worker` on the bench database and Redis, made to compute a
full quarterly rollup (the heaviest task there is) while its memory is watched."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.processes import peak_rss_mb, started
from bench.web import app_environment

ROLLUP_TASK = "tidtam.rollups.compute"
ROLLUP = (2566, 4)


def run(database_url: str, redis_url: str, say: Callable[[str], None]) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="tidtam-bench-worker-"))
    env = app_environment(database_url, redis_url, str(logs / "instance"))
    result: dict[str, Any] = {"task": f"{ROLLUP_TASK}{ROLLUP}", "logs": str(logs)}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from service import create_app

        celery = create_app().extensions["celery"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with started(["make", "--no-print-directory", "worker"], env, logs / "worker.log") as worker:
        celery.send_task("tidtam.health").get(timeout=120)  # up and consuming
        started_at = time.perf_counter()
        try:
            answer = celery.send_task(ROLLUP_TASK, args=ROLLUP).get(timeout=600)
            result["answer"] = answer
            result["task_seconds"] = round(time.perf_counter() - started_at, 1)
        except Exception as error:  # the worker's memory is measured either way
            result["error"] = f"{type(error).__name__}: {error}"
        result["memory"] = peak_rss_mb(worker.pid)
    memory = result["memory"]
    say(
        f"  worker: {memory['largest_mb']:.0f} MB largest of {memory['processes']} processes"
        + (
            f" after {result['task']} ({result['task_seconds']} s)"
            if "task_seconds" in result
            else ""
        )
    )
    result["figures"] = [
        {
            "name": f"worker peak memory ({memory['processes']} celery processes, "
            f"through {result['task']})",
            "value": memory["largest_mb"],
            "unit": "MB",
            "value_text": f"{memory['largest_mb']:.0f} MB largest, {memory['total_mb']:.0f} MB "
            "together"
            + (f"; task took {result['task_seconds']} s" if "task_seconds" in result else ""),
            "baseline_text": "—",
            "target": "—",
            "met": None,
        }
    ]
    return result
