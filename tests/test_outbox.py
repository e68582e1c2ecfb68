"""The outbox: events reach Celery only after their transaction commits, requests succeed
while Redis is down, the backlog is relayed when it returns, and every event is delivered
once. Relays running at the same time claim disjoint batches."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from service.audit.models import OutboxEvent
from service.audit.operations import emit
from service.core.db import db, utcnow
from service.notifications.models import Channel, DeliveryState, Notification
from service.notifications.operations import relay_outbox
from tests.smtp import free_port, mail_sink
from tests.stack import Stack, committed_stack, eventually
from tests.work_data import school_result
from tests.workers import running_worker


def _emit_returned(stack: Stack, count: int = 1) -> float:
    """Commit `count` step_result.return events, one transaction each (as requests do);
    return the slowest commit in seconds."""
    slowest = 0.0
    with stack.app.app_context():
        result_id = school_result(db.session).id
        db.session.rollback()
        for _ in range(count):
            started = time.monotonic()
            emit(
                db.session,
                kind="step_result.return",
                object_type="step_result",
                object_id=result_id,
                payload={"to": "returned", "reason": "แนบหลักฐานไม่ครบ"},
            )
            db.session.commit()
            slowest = max(slowest, time.monotonic() - started)
    return slowest


class RedisServer:
    """A throwaway redis-server on `port` without persistence: a restart forgets every
    message, as a crashed or replaced Redis does. Never the shared system Redis."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def _ping(self) -> bool:
        answer = subprocess.run(
            ["redis-cli", "-p", str(self.port), "--raw", "ping"], capture_output=True, text=True
        )
        return answer.stdout.strip() == "PONG"

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        eventually(self._ping, timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def _delivered(stack: Stack) -> tuple[int, int, int]:
    """(events waiting for the relay, email rows not sent yet, email rows sent)."""
    with stack.app.app_context():
        waiting = db.session.scalar(
            select(func.count(OutboxEvent.id)).where(OutboxEvent.relayed_at.is_(None))
        )
        states = Counter(
            db.session.scalars(
                select(Notification.state).where(Notification.channel == Channel.EMAIL)
            )
        )
        db.session.rollback()
    sent = states.pop(DeliveryState.SENT, 0)
    return int(waiting or 0), sum(states.values()), sent


@pytest.mark.worker
@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_outbox_survives_redis_stopped_and_restarted(tmp_path: Path, app: Flask) -> None:
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    redis_log = tmp_path / "redis.log"
    with (
        mail_sink() as sink,
        committed_stack(
            tmp_path,
            "outage",
            REDIS_URL=redis_url,
            NOTIFICATION_SEND_LEASE_SECONDS="3",
            NOTIFICATION_REQUEUE_SECONDS="3",
            **sink.env(),
        ) as stack,
    ):
        worker_log = tmp_path / "worker.log"
        redis = RedisServer(port, redis_log)
        redis.start()
        try:
            with running_worker(
                stack.env,
                queues="notifications",
                pool="prefork",
                concurrency=2,
                log=worker_log,
                supervised=True,  # as compose restarts it: kombu may die with its broker
            ):
                _emit_returned(stack, 8)
                sink.wait_for(8, timeout=60)

                redis.stop()  # Redis goes away mid-run
                slowest = _emit_returned(stack, 8)
                assert slowest < 3.0, f"a commit took {slowest:.1f}s with Redis down"
                assert _delivered(stack)[0] == 8  # kept in the outbox, not lost

                redis.start()  # back, and empty
                _emit_returned(stack, 4)

                def all_sent() -> bool:
                    stack.send("tidtam.outbox.relay")  # as beat does every few seconds
                    waiting, unsent, sent = _delivered(stack)
                    return waiting == 0 and unsent == 0 and sent == 20

                eventually(all_sent, timeout=90, interval=1.0)
                time.sleep(1.0)  # anything doubled would arrive now
        finally:
            redis.stop()
    mails = sink.mails
    keys = Counter(str(m.message["X-Tidtam-Delivery"]) for m in mails)
    assert len(keys) == 20, worker_log.read_text()[-4000:]
    assert set(keys.values()) == {1}, f"sent twice: {[k for k, n in keys.items() if n > 1]}"
    assert set(sink.message_ids().values()) == {1}


def test_concurrent_relays_claim_disjoint_batches(tmp_path: Path, app: Flask) -> None:
    """Two relays at once (SKIP LOCKED on PostgreSQL, one writer at a time on SQLite) share
    the backlog without claiming an event twice."""
    with committed_stack(tmp_path, "relays") as stack:
        with stack.app.app_context():
            result_id = school_result(db.session).id
            for _ in range(300):
                emit(
                    db.session,
                    kind="step_result.return",
                    object_type="step_result",
                    object_id=result_id,
                    payload={},
                )
            db.session.commit()
        engine = stack.app.extensions["tidtam.db"]
        claimed: list[list[int]] = [[], []]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def relay(slot: int) -> None:
            try:
                with stack.app.app_context():
                    session = db.sessionmaker(bind=engine)
                    barrier.wait()
                    while True:
                        batch = relay_outbox(
                            session,
                            now=utcnow(),
                            requeue_after=timedelta(minutes=5),
                            batch_size=25,
                        )
                        session.commit()
                        if not batch.event_ids:
                            break
                        claimed[slot] += batch.event_ids
                    session.close()
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=relay, args=(slot,)) for slot in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert not set(claimed[0]) & set(claimed[1])
        assert len(claimed[0]) + len(claimed[1]) == 300
        with stack.app.app_context():
            rows = db.session.scalar(select(func.count(Notification.id)))
            keys = db.session.scalar(select(func.count(func.distinct(Notification.delivery_key))))
            db.session.rollback()
        assert rows == keys == 600  # in-app and email for the school user, per event
