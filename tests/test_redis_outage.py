"""Redis outages (issue 12, finding 4): sign-in keeps working while Redis is gone (the rate
limits count in memory, with a logged warning), the worker as `make run` runs it (the
Procfile's line) survives or is started again, and every mail is delivered exactly once.

A Redis of the test's own, with an append-only file as in docker-compose.yml, is stopped
three times while the worker is in the middle of sending (holding unacknowledged messages)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from tests.conftest import csrf_token
from tests.smtp import MailSink, free_port
from tests.stack import Stack, committed_stack, eventually
from tests.test_outbox import RedisServer, _delivered, _emit_returned

ROOT = Path(__file__).resolve().parent.parent
#: How long each outage lasts (the issue's 30 s) and how many there are.
OUTAGE_SECONDS = 30.0
OUTAGES = 3
#: Mails per round, and how long the SMTP server takes over each: the worker is mid-task
#: (its message unacknowledged) when Redis goes.
MAILS_PER_ROUND = 4
SMTP_SECONDS = 1.0


class SlowSink(MailSink):
    """An SMTP server that takes SMTP_SECONDS over each message's DATA."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.started = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.started += 1
        await asyncio.sleep(SMTP_SECONDS)  # a sender that goes away meanwhile delivered nothing
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def slow_sink() -> Iterator[SlowSink]:
    sink = SlowSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


class PersistentRedis(RedisServer):
    """A redis-server of the test's own that keeps its queues across a restart (append-only
    file), as docker-compose.yml runs it."""

    def __init__(self, port: int, log: Path, data: Path) -> None:
        super().__init__(port, log)
        self.data = data

    def start(self) -> None:
        self.data.mkdir(exist_ok=True)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "yes", "--dir", str(self.data)),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        eventually(self._ping, timeout=10)


def _procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in the Procfile")


@contextmanager
def procfile_process(
    name: str, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The Procfile's `name` line run as honcho runs it (a shell in a session of its own),
    stopped as honcho stops it (SIGTERM to the group)."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["/bin/sh", "-c", _procfile_line(name)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _sign_in(app: Flask) -> int:
    """A sign-in through the login form; the status of the POST (302 when it worked)."""
    client = app.test_client()
    token = csrf_token(client, "/login?lang=en")
    response = client.post(
        "/login",
        data={
            "email": "school@demo.tidtam.local",
            "password": "demo-school-2566",
            "csrf_token": token,
        },
    )
    return response.status_code


def _crash(shell: subprocess.Popen[bytes]) -> None:
    """Stop the celery worker under the Procfile's loop at once, as kombu's "Unrecoverable
    error" does when it dies with its broker."""
    children = Path(f"/proc/{shell.pid}/task/{shell.pid}/children").read_text().split()
    assert children, "no worker under the Procfile's loop"
    for pid in children:
        os.kill(int(pid), signal.SIGQUIT)  # a cold shutdown: the worker exits


def _outage(
    stack: Stack, redis: PersistentRedis, during: Callable[[], None] | None = None
) -> list[int]:
    """Redis away for OUTAGE_SECONDS, signing in every few seconds; the statuses."""
    redis.stop()
    if during is not None:
        during()
    statuses = []
    ends = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < ends:
        statuses.append(_sign_in(stack.app))
        time.sleep(min(3.0, max(0.0, ends - time.monotonic())))
    redis.start()
    statuses.append(_sign_in(stack.app))
    return statuses


@pytest.mark.worker
@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
@pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"),
    reason="TEST_REDIS_URL is not set: the PostgreSQL and Redis run covers this (2 minutes)",
)
@pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "celery").exists(), reason="the Procfile runs .venv/bin/celery"
)
def test_sign_in_and_mail_survive_three_redis_outages(
    tmp_path: Path, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    redis = PersistentRedis(port, tmp_path / "redis.log", tmp_path / "redis-data")
    worker_log = tmp_path / "worker.log"
    redis.start()
    try:
        with (
            slow_sink() as sink,
            committed_stack(
                tmp_path,
                "redis_outage",
                REDIS_URL=f"redis://127.0.0.1:{port}/0",
                NOTIFICATION_SEND_LEASE_SECONDS="3",
                NOTIFICATION_REQUEUE_SECONDS="3",
                MAIL_TIMEOUT="5",
                **sink.env(),
            ) as stack,
            procfile_process("worker", stack.env, worker_log) as worker,
            caplog.at_level(logging.WARNING),
        ):
            assert _sign_in(stack.app) == 302
            statuses: list[int] = []
            for round_ in range(OUTAGES):
                before = sink.started
                _emit_returned(stack, MAILS_PER_ROUND)
                # The worker is sending: its message is taken and not acknowledged yet.
                eventually(lambda: sink.started > before, timeout=60)  # noqa: B023
                # In the second outage the worker dies, as kombu's worker did 1 time in 3.
                crash = (lambda: _crash(worker)) if round_ == 1 else None
                statuses += _outage(stack, redis, crash)
                assert worker.poll() is None, f"outage {round_ + 1}: the worker's loop ended"

            def all_sent() -> bool:
                stack.send("tidtam.outbox.relay")  # as beat does every few seconds
                waiting, unsent, sent = _delivered(stack)
                return waiting == 0 and unsent == 0 and sent == OUTAGES * MAILS_PER_ROUND

            eventually(all_sent, timeout=90, interval=1.0)
            time.sleep(2 * SMTP_SECONDS)  # anything doubled would arrive now
            assert worker.poll() is None
    finally:
        redis.stop()

    # Sign-in worked throughout: a redirect each time, never a 500.
    assert statuses and set(statuses) == {302}, statuses
    # The limiter said it counts in memory while Redis was away.
    assert any("falling back to in-memory" in r.getMessage() for r in caplog.records)
    keys = Counter(str(m.message["X-Tidtam-Delivery"]) for m in sink.mails)
    assert len(keys) == OUTAGES * MAILS_PER_ROUND, worker_log.read_text()[-4000:]
    assert set(keys.values()) == {1}, f"sent twice: {[k for k, n in keys.items() if n > 1]}"
    assert set(sink.message_ids().values()) == {1}
    # The dead worker was started again by the Procfile's loop, which never ended.
    assert "worker exited" in worker_log.read_text()
