"""Celery, as the service sees it: bound to the app, and tasks known only by name.

Everything the service does to get work to a worker is here, in one module:

- the task names (`TaskName`), the only way the service knows a task: `service` never
  imports `workers`; `workers` registers its tasks under these names, and the beat schedule
  (workers/schedule.py) refers to them too;
- `enqueue_after_commit`: send a task once the current transaction has committed, so a worker
  never reads a row that is not there yet, and forget it if the transaction rolls back;
- `nudge_after_commit`: the same for "look now" tasks (the outbox relay), sent from a
  background thread so that a commit never waits for the broker;
- `send_task`: send now, outside any transaction (a button that starts a computation).

The session listeners that release the pending sends are registered, with every other
listener, by `service.core.listeners.register_listeners`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from celery import Celery, Task
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

log = logging.getLogger("tidtam.tasks")


class TaskName:
    """Every task name the service sends or beat schedules; each one a worker registers."""

    HEALTH: Final = "tidtam.health"
    OUTBOX_RELAY: Final = "tidtam.outbox.relay"
    NOTIFICATIONS_DISPATCH: Final = "tidtam.notifications.dispatch"
    NOTIFICATIONS_SWEEP: Final = "tidtam.notifications.sweep"
    NOTIFICATIONS_DIGEST: Final = "tidtam.notifications.digest"
    NOTIFICATIONS_SEND_DIGESTS: Final = "tidtam.notifications.send_digests"
    DEADLINES_RUN: Final = "tidtam.deadlines.run"
    ROLLUPS_COMPUTE: Final = "tidtam.rollups.compute"
    ROLLUPS_QUARTER_END: Final = "tidtam.rollups.quarter_end"
    ROLLUPS_CURRENT: Final = "tidtam.rollups.current"
    AUTH_PASSWORD_RESET_MAIL: Final = "tidtam.auth.password_reset_mail"
    ROLLUPS_FIGURES: Final = "tidtam.rollups.figures"
    BUDGET_UNDECIDABLE: Final = "tidtam.budget.undecidable"


#: Every task name, for the test that holds the service and the worker to the same list.
TASK_NAMES: Final = frozenset(
    value for key, value in vars(TaskName).items() if key.isupper() and isinstance(value, str)
)


#: How often the embedded (database) broker looks for new tasks, in seconds.
EMBEDDED_POLLING_SECONDS = 0.2


def _poll_embedded_broker_often() -> None:
    """The embedded broker polls its tables, by default once a second: every task waited up
    to a second for its worker, and a worker took four seconds to stop. kombu's transports
    keep the interval as a class attribute, and its SQLAlchemy transport hands every
    transport option to `create_engine`, which refuses this one: so it is set on the class.
    Five polls a second cost an idle laptop a few small SELECTs."""
    from kombu.transport import sqlalchemy as embedded

    embedded.Transport.polling_interval = EMBEDDED_POLLING_SECONDS


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app whose tasks run inside a Flask app context (Flask's pattern)."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app: Celery = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    if str(app.config["CELERY"]["broker_url"]).startswith("sqla+"):
        _poll_embedded_broker_often()
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def send_task(name: str, *args: Any, **options: Any) -> None:
    """Send a task by name now (outside any transaction).

    Without a result by default: the web never waits for one, and asking for one makes
    Celery subscribe to the Redis result channel, a subscription that does not survive a
    Redis restart (every later send would fail until the process restarts). A task whose
    progress is polled stores its state itself."""
    options.setdefault("ignore_result", True)
    current_app.extensions["celery"].send_task(name, args=args, **options)


# -- enqueue after commit -----------------------------------------------------------------

_PENDING = "tidtam.pending_tasks"


def enqueue_after_commit(session: Session, name: str, *args: Any, **options: Any) -> None:
    """Send task `name` once `session` commits; forget it if the session rolls back.

    Asking twice for the same task with the same arguments in one transaction sends it once.
    """
    pending = session.info.setdefault(_PENDING, [])
    if (name, args, options) not in pending:
        pending.append((name, args, options))


def send_pending_tasks(session: Session) -> None:
    """Session `after_commit`: send what `enqueue_after_commit` kept."""
    pending = session.info.pop(_PENDING, [])
    for name, args, options in pending:
        try:
            send_task(name, *args, **options)
        except Exception:
            # The transaction has committed: a broker that is down must not turn it into an
            # error page. Work that must not be lost is in the database (the outbox, pending
            # notifications), where beat and the sweeps find it when the broker is back.
            log.warning("could not send %s after commit; beat will catch up", name, exc_info=True)


def drop_pending_tasks(session: Session, _previous: Any = None) -> None:
    """Session `after_soft_rollback`: the transaction is gone, and its tasks with it."""
    session.info.pop(_PENDING, None)


# -- nudges -------------------------------------------------------------------------------
#
# Some tasks only say "there is work in the database, look now" (the outbox relay): beat sends
# them every few seconds anyway, and sending one twice or not at all changes nothing but
# latency. For those, a request must never wait for the broker: redis-py retries a refused
# connection for seconds, and during a Redis outage every request that commits would. So a
# nudge is handed to one daemon thread per process, which sends it with no retries; nudges
# asked for while one is being sent collapse into one. When the broker is down the send fails,
# is logged, and beat picks the work up once it is back.

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


def release_nudges(session: Session) -> None:
    """Session `after_commit`: hand the nudges asked for to the process's nudger thread."""
    names = session.info.pop(_NUDGES, None)
    # Outside an app (a script, a thread of its own) there is no broker to nudge: the beat
    # relay picks the events up within seconds anyway, so nothing is lost.
    if names and has_app_context():
        _nudger(current_app.extensions["celery"]).nudge(set(names))


def drop_nudges(session: Session, _previous: Any = None) -> None:
    """Session `after_soft_rollback`: no nudge for a transaction that did not happen."""
    session.info.pop(_NUDGES, None)
