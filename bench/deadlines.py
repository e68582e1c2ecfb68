"""Deadline engine benchmark: every default reminder rule over the bench database (100,000
projects, 1,000,000 steps), beside the bare SQL aggregate each rule rests on (counting the
objects waiting), measured in the same run; the hourly rerun again after four weeks of runs
have grown the key history (`measure_history`); and notifications per second through a local
SMTP server.

    python -m bench.deadlines [DATABASE_URL]

The engine runs inside one transaction that is rolled back at the end: the shared bench
database keeps no reminder rules and no notifications. Peak memory is the Python heap's peak
(tracemalloc) during the engine run, and the process's resident high-water mark.
"""

from __future__ import annotations

import os
import resource
import tempfile
import threading
import time
import tracemalloc
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.core.db import make_engine, utcnow
from service.core.listeners import register_listeners
from service.core.sql import date_literal
from service.deadlines.engine import WATCHES, Context, run_rule
from service.deadlines.rules import ensure_default_rules
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderRule

#: How far into the latest open fiscal year the engine runs: mid-March, when plenty is due,
#: overdue and waiting. Only open years are chased (closed years' leftovers are history): a
#: fixed day in a year the generator closes measured a run with nothing to do (0
#: notifications), so the day is read from the database.
DAY_INTO_YEAR = timedelta(days=165)


def engine_day(session: Session) -> date:
    """Mid-March of the latest open fiscal year."""
    starts_on = session.scalar(
        select(FiscalYear.starts_on)
        .where(FiscalYear.is_open.is_(True))
        .order_by(FiscalYear.be_year.desc())
        .limit(1)
    )
    if starts_on is None:
        raise RuntimeError("no open fiscal year: the deadline engine would chase nothing")
    return starts_on + DAY_INTO_YEAR


MAILS = 1000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bare_count(session: Session, ctx: Context) -> int:
    """The aggregate a rule rests on: how many objects wait for it on the day (no recipients,
    no occurrences, no insert)."""
    rule = ctx.rule
    source = WATCHES[rule.kind].source(ctx).subquery()
    first_day = date_literal(ctx.dialect, ctx.today - timedelta(days=rule.offset_days))
    return int(
        session.scalar(select(func.count()).select_from(source).where(source.c.anchor <= first_day))
        or 0
    )


def _fire(session: Session, rule: ReminderRule, day: date, years: dict[int, int]) -> list[int]:
    """One run of `rule` for `day`, as the hourly task runs it."""
    return run_rule(
        session, rule, today=day, now=utcnow(), requeue_after=timedelta(minutes=10), years=years
    )


def _vacuum_notifications(engine: Any) -> None:
    """Each run is rolled back, leaving its quarter of a million rows dead in the table; a
    server without autovacuum (as here) would let the next run wade through them all."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE notification"))


def measure_engine(database_url: str, day: date | None = None) -> dict[str, Any]:
    register_listeners()  # measured with the listeners the app runs with
    engine = make_engine(database_url)
    figures: dict[str, Any] = {"rules": {}}
    _vacuum_notifications(engine)
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        day = day or engine_day(session)
        figures["day"] = day.isoformat()
        try:
            ensure_default_rules(session)
            rules = list(session.scalars(select(ReminderRule).order_by(ReminderRule.id)))
            years = {fy.id: fy.be_year for fy in session.scalars(select(FiscalYear))}
            dialect = connection.dialect.name
            bare_total = 0.0
            for rule in rules:
                ctx = Context(dialect=dialect, today=day, rule=rule, years=years)
                started = time.perf_counter()
                waiting = _bare_count(session, ctx)
                bare = time.perf_counter() - started
                bare_total += bare
                figures["rules"][rule.kind.value] = {"waiting": waiting, "bare_s": round(bare, 3)}

            def fire(rule: ReminderRule) -> list[int]:
                return _fire(session, rule, day, years)

            tracemalloc.start()
            rss_before = _rss_mb()
            started = time.perf_counter()
            total_new = 0
            for rule in rules:
                clock = time.perf_counter()
                ids = fire(rule)
                total_new += len(ids)
                figures["rules"][rule.kind.value].update(
                    engine_s=round(time.perf_counter() - clock, 3), new_to_dispatch=len(ids)
                )
            engine_s = time.perf_counter() - started
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows = int(session.scalar(text("SELECT count(*) FROM notification")) or 0)
            started = time.perf_counter()
            for rule in rules:  # the next hourly run: every key exists already
                fire(rule)
            rerun_s = time.perf_counter() - started
        finally:
            session.close()
            transaction.rollback()
    engine.dispose()
    figures.update(
        engine_seconds=round(engine_s, 2),
        rerun_seconds=round(rerun_s, 2),
        bare_seconds=round(bare_total, 2),
        ratio=round(engine_s / bare_total, 2) if bare_total else None,
        notifications=rows,
        dispatch_ids=total_new,
        python_heap_peak_mb=round(peak / 2**20, 1),
        rss_peak_mb=round(max(_rss_mb(), rss_before), 1),
    )
    return figures


#: The key history grown before the engine is timed again: a run every HISTORY_STEP days for
#: HISTORY_DAYS days, as the hourly schedule would leave it (a rule repeating every 3, 5 or 7
#: days adds its next occurrence of every object still waiting).
HISTORY_DAYS = 28
HISTORY_STEP = 3


def measure_history(database_url: str, days: int = HISTORY_DAYS) -> dict[str, Any]:
    """What the key history costs as it grows: from the bench's day, the engine runs every
    HISTORY_STEP days for `days` days, each day once (the new occurrences) and again (the
    hourly rerun, whose every key exists: the cost of checking keys against the history
    alone). One transaction, rolled back at the end."""
    register_listeners()
    engine = make_engine(database_url)
    _vacuum_notifications(engine)
    steps: list[dict[str, Any]] = []
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        try:
            start = engine_day(session)
            ensure_default_rules(session)
            rules = list(session.scalars(select(ReminderRule).order_by(ReminderRule.id)))
            years = {fy.id: fy.be_year for fy in session.scalars(select(FiscalYear))}

            def fire_all(day: date) -> tuple[float, int]:
                started = time.perf_counter()
                new = sum(len(_fire(session, rule, day, years)) for rule in rules)
                return time.perf_counter() - started, new

            for offset in range(0, days + 1, HISTORY_STEP):
                day = start + timedelta(days=offset)
                run_s, new = fire_all(day)
                rerun_s, _again = fire_all(day)
                rows = int(session.scalar(text("SELECT count(*) FROM notification")) or 0)
                steps.append(
                    {
                        "day": day.isoformat(),
                        "run_s": round(run_s, 2),
                        "new": new,
                        "rerun_s": round(rerun_s, 2),
                        "history_rows": rows,
                    }
                )
        finally:
            session.close()
            transaction.rollback()
    engine.dispose()
    first, last = steps[0], steps[-1]
    return {
        "steps": steps,
        "days": days,
        "first_rerun_s": first["rerun_s"],
        "last_rerun_s": last["rerun_s"],
        "first_rows": first["history_rows"],
        "last_rows": last["history_rows"],
        "rerun_growth": round(last["rerun_s"] / first["rerun_s"], 2) if first["rerun_s"] else None,
    }


def _scratch_database(server_url: str, name: str) -> str:
    """A fresh database `name` on the PostgreSQL server of `server_url` (dropped first)."""
    server = make_engine(
        make_url(server_url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    name = make_url(url).database
    server = make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def measure_mail(database_url: str, mails: int = MAILS) -> dict[str, Any]:
    """Relay `mails` events and deliver their mail through aiosmtpd on loopback, in this
    process, on a scratch PostgreSQL database next to the bench one: events relayed per
    second and mails per second (claim, send, mark sent: two commits and one SMTP
    transaction each, one process)."""
    from aiosmtpd.controller import Controller
    from alembic import command

    from service import create_app
    from service.audit.operations import emit
    from service.cli import alembic_config
    from service.core.db import db
    from service.demo.load import load_demo
    from service.notifications.dispatch import deliver
    from service.notifications.operations import DeliverySettings, relay_outbox
    from service.projects.models import StepResult

    received = 0
    lock = threading.Lock()

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            nonlocal received
            with lock:
                received += 1
            return "250 OK"

    folder = tempfile.mkdtemp(prefix="tidtam-bench-mail-")
    url = _scratch_database(database_url, "tidtam_bench_mail")
    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    saved = dict(os.environ)
    os.environ.update(
        TIDTAM_INSTANCE=folder, DATABASE_URL=url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port)
    )
    os.environ.pop("REDIS_URL", None)
    try:
        app = create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        with app.app_context():
            command.upgrade(alembic_config(url), "head")
            load_demo(db.session)
            session = db.session()
            result_id = session.scalars(select(StepResult.id)).first()
            for _ in range(mails):
                emit(
                    session,
                    kind="step_result.submit",
                    object_type="step_result",
                    object_id=result_id or 1,
                    payload={},
                )
            session.commit()
            started = time.perf_counter()
            ids: list[int] = []
            while True:
                batch = relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
                session.commit()
                if not batch.event_ids:
                    break
                ids += batch.dispatch_ids
            relay_s = time.perf_counter() - started
            started = time.perf_counter()
            settings = DeliverySettings()
            for first in range(0, len(ids), 100):
                deliver(
                    session,
                    ids[first : first + 100],
                    settings=settings,
                    held_until=utcnow() + timedelta(minutes=10),
                )
            deliver_s = time.perf_counter() - started
    finally:
        controller.stop()
        app.extensions["tidtam.db"].dispose()
        _drop_database(url)
    return {
        "events": mails,
        "relay_events_per_second": round(mails / relay_s, 1),
        "mails": received,
        "mails_per_second": round(received / deliver_s, 1),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: The issue's target for a deadline scan at 100,000 projects.
SCAN_TARGET_SECONDS = 5.0


def run(database_url: str) -> dict[str, Any]:
    """The figures for `make bench` (bench/__main__.py's table)."""
    result = measure_engine(database_url)
    history = measure_history(database_url)
    mail = measure_mail(database_url)
    result["mail"] = mail
    result["history"] = history
    result["figures"] = [
        {
            "name": f"deadline engine, 7 rules, day {result['day']}",
            "value": result["engine_seconds"],
            "value_text": (
                f"{result['engine_seconds']} s, {result['notifications']:,} notifications, "
                f"heap peak {result['python_heap_peak_mb']} MB"
            ),
            "baseline": result["bare_seconds"],
            "baseline_text": f"{result['bare_seconds']} s bare count of waiting objects",
            "ratio": result["ratio"],
            "ratio_text": f"{result['ratio']}×" if result["ratio"] else "—",
            # A first run over a whole day's backlog writes every notification of it.
            "target": f"< {SCAN_TARGET_SECONDS:g} s",
            "met": result["engine_seconds"] < SCAN_TARGET_SECONDS,
        },
        {
            "name": "deadline scan, hourly rerun (every key exists)",
            "value": result["rerun_seconds"],
            "value_text": f"{result['rerun_seconds']} s",
            "target": f"< {SCAN_TARGET_SECONDS:g} s",
            "met": result["rerun_seconds"] < SCAN_TARGET_SECONDS,
        },
        {
            "name": f"deadline scan, hourly rerun after {history['days']} days of runs",
            "value": history["last_rerun_s"],
            "value_text": (
                f"{history['last_rerun_s']} s over {history['last_rows']:,} notifications"
            ),
            "baseline": history["first_rerun_s"],
            "baseline_text": (
                f"{history['first_rerun_s']} s over {history['first_rows']:,} on the first day"
            ),
            "ratio": history["rerun_growth"],
            "ratio_text": f"{history['rerun_growth']}×" if history["rerun_growth"] else "—",
            "target": f"< {SCAN_TARGET_SECONDS:g} s",
            "met": history["last_rerun_s"] < SCAN_TARGET_SECONDS,
        },
        {
            "name": "notifications through a local SMTP sink (one process)",
            "value": mail["mails_per_second"],
            "unit": "/s",
            "value_text": (
                f"{mail['mails_per_second']} mails/s; relay "
                f"{mail['relay_events_per_second']} events/s"
            ),
            "target": "—",
            "met": None,
        },
    ]
    return result


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)
