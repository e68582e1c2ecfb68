"""Nudges: "look now" tasks sent after commit from a background thread, coalesced.

Some tasks only say "there is work in the database, look now" (the outbox relay): beat sends
them every few seconds anyway, and sending one twice or not at all changes nothing but
latency. For those, a request must never wait for the broker: redis-py retries a refused
connection for seconds, and during a Redis outage every request that commits would. So a
nudge is handed to one daemon thread per process, which sends it with no retries; nudges
asked for while one is being sent collapse into one. When the broker is down the send fails,
is logged, and beat picks the work up once it is back.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("tidtam.tasks")

_NUDGES = "tidtam.nudges"


class _Nudger:
    """One thread per process sending the nudged task names, each at most once per wake-up."""

    def __init__(self, celery: Any) -> None:
        self.celery = celery
        self.wanted: set[str] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tidtam-nudger", daemon=True)
        self.thread.start()

    def nudge(self, names: set[str]) -> None:
        with self.lock:
            self.wanted |= names
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            with self.lock:
                names, self.wanted = self.wanted, set()
            for name in sorted(names):
                try:
                    self.celery.send_task(name, retry=False, ignore_result=True, expires=300)
                except Exception as error:  # the broker is down: beat will do it
                    log.warning("could not nudge %s: %s", name, error)


_nudgers: dict[int, _Nudger] = {}
_nudgers_lock = threading.Lock()


def _nudger(celery: Any) -> _Nudger:
    with _nudgers_lock:
        nudger = _nudgers.get(id(celery))
        if nudger is None or not nudger.thread.is_alive():  # e.g. after a fork
            nudger = _nudgers[id(celery)] = _Nudger(celery)
        return nudger


def nudge_after_commit(session: Session, name: str) -> None:
    """Send task `name` (which takes no arguments) soon after `session` commits, without
    making the commit wait for the broker; nothing if the session rolls back."""
    session.info.setdefault(_NUDGES, set()).add(name)


@event.listens_for(Session, "after_commit")
def _release_nudges(session: Session) -> None:
    names = session.info.pop(_NUDGES, None)
    # Outside an app (a script, a thread of its own) there is no broker to nudge: the beat
    # relay picks the events up within seconds anyway, so nothing is lost.
    if names and has_app_context():
        _nudger(current_app.extensions["celery"]).nudge(set(names))


@event.listens_for(Session, "after_soft_rollback")
def _drop_nudges(session: Session, _previous: Any) -> None:
    session.info.pop(_NUDGES, None)
