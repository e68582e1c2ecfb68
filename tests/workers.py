"""Starting real Celery worker processes for tests (never task_always_eager)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def running_worker(
    env: dict[str, str],
    *,
    queues: str = "celery",
    pool: str = "solo",
    concurrency: int = 1,
    log: Path | None = None,
    supervised: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """A `celery -A workers.app worker` process with `env` on top of ours; stopped on exit.

    `supervised`: started again whenever it exits by itself, as the compose file's
    `restart: unless-stopped` does (kombu can kill a worker while its broker goes away)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
    ]
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    current = [start()]
    stopping = threading.Event()

    def supervise() -> None:
        while not stopping.wait(0.5):
            if current[0].poll() is not None:
                current[0] = start()

    supervisor = threading.Thread(target=supervise, daemon=True) if supervised else None
    if supervisor is not None:
        supervisor.start()
    try:
        yield current[0]
    finally:
        stopping.set()
        if supervisor is not None:
            supervisor.join()
        _stop(current[0])
        if log:
            output.close()  # type: ignore[union-attr]
