"""What the workers are doing: broker reachability, worker heartbeats, queue depths, the
outbox backlog and notifications waiting or failed. Served at /healthz/workers (JSON; 503
when the broker cannot be reached) and by `flask --app service workers-status`; plus the
commands that run worker jobs by hand (deadlines, rollups, default reminder rules)."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from typing import Any, cast

import click
from celery import Celery
from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from service.core.db import utcnow
from service.core.queues import QUEUES
from service.extensions import db
from service.notifications.models import DeliveryState, Notification
from service.notifications.operations import outbox_backlog
from service.ops.models import WorkerHeartbeat

# cli_group=None: the commands are top-level (`flask --app service workers-status`).
bp = Blueprint("workers", __name__, cli_group=None)

PING_TIMEOUT = 1.0
#: A worker whose heartbeat is older than this is taken for gone (beat sends one a minute).
HEARTBEAT_FRESH = timedelta(minutes=3)


def _broker(celery: Celery) -> dict[str, Any]:
    try:
        with celery.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
            depths = {}
            with connection.channel() as channel:
                for queue in QUEUES:
                    try:
                        declared = cast(Any, channel).queue_declare(queue=queue, passive=True)
                        count = declared[1]
                    except Exception:  # a queue nobody declared yet holds nothing
                        count = 0
                    depths[queue] = int(count)
        return {"reachable": True, "queues": depths}
    except Exception as error:  # reported, not raised: this is a health check
        return {"reachable": False, "error": f"{type(error).__name__}: {error}"}


def _heartbeats(celery: Celery) -> dict[str, Any]:
    broker = str(celery.conf.broker_url)
    if not broker.startswith("redis"):
        return {
            "supported": False,
            "reason": "kombu's SQLAlchemy (SQLite) transport has no broadcast: workers cannot "
            "be pinged; see the queue depths and the outbox backlog instead",
        }
    try:
        replies = celery.control.inspect(timeout=PING_TIMEOUT).ping() or {}
    except Exception as error:
        return {"supported": True, "error": f"{type(error).__name__}: {error}", "workers": []}
    return {"supported": True, "workers": sorted(replies)}


def alive_workers(session: Any) -> list[str]:
    """Workers whose heartbeat (the `tidtam.health` task) is fresh."""
    since = utcnow() - HEARTBEAT_FRESH
    return list(
        session.scalars(
            select(WorkerHeartbeat.worker)
            .where(WorkerHeartbeat.seen_at >= since)
            .order_by(WorkerHeartbeat.worker)
        )
    )


def overall(broker_reachable: bool, alive: list[str]) -> str:
    """ "error" without a broker, "degraded" while no worker is alive, else "ok"."""
    if not broker_reachable:
        return "error"
    return "ok" if alive else "degraded"


def workers_status(app: Flask) -> dict[str, Any]:
    """Everything /healthz/workers reports, as a dict."""
    celery: Celery = app.extensions["celery"]
    session = db.session()
    backlog, oldest = outbox_backlog(session)
    states = dict(
        session.execute(
            select(Notification.state, func.count(Notification.id))
            .where(
                Notification.state.in_(
                    [DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED]
                )
            )
            .group_by(Notification.state)
        ).all()
    )
    alive = alive_workers(session)
    session.rollback()
    return {
        "broker": _broker(celery),
        "heartbeats": {**_heartbeats(celery), "alive": alive},
        "outbox": {
            "backlog": backlog,
            "oldest_age_seconds": round((utcnow() - oldest).total_seconds(), 1) if oldest else None,
        },
        "notifications": {
            state.value: int(states.get(state, 0))
            for state in (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED)
        },
    }


@bp.route("/healthz/workers")
def health() -> ResponseReturnValue:
    """Worker health as JSON; 503 when the broker cannot be reached. No login needed for
    the status alone ({"status": "ok"|"degraded"|"error"}: degraded while no worker's
    heartbeat is fresh); the details (queues and their depths,
    worker names, the outbox, notifications, broker errors) only for a signed-in admin of
    the whole tree: they map the deployment for anyone else."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not _sees_details():
        ok = bool(_broker(app.extensions["celery"])["reachable"])
        alive = alive_workers(db.session())
        db.session.rollback()
        return jsonify(status=overall(ok, alive)), 200 if ok else 503
    status = workers_status(app)
    ok = status["broker"]["reachable"]
    status["status"] = overall(ok, status["heartbeats"]["alive"])
    return jsonify(status), 200 if ok else 503


def _sees_details() -> bool:
    from flask_login import current_user

    from service.core.permissions import administers

    if not (current_user and current_user.is_authenticated):
        return False
    return administers(db.session(), current_user._get_current_object(), None)


@bp.cli.command("workers-status")
def workers_status_command() -> None:
    """Print broker reachability, worker heartbeats, queue depths and the outbox backlog."""
    status = workers_status(current_app._get_current_object())  # type: ignore[attr-defined]
    broker = status["broker"]
    click.echo(
        f"broker      {'reachable' if broker['reachable'] else 'UNREACHABLE'}"
        + ("" if broker["reachable"] else f" ({broker['error']})")
    )
    beats = status["heartbeats"]
    if not beats["supported"]:
        click.echo(f"workers     unknown: {beats['reason']}")
    else:
        click.echo(
            f"workers     {len(beats.get('workers', []))} answered: "
            + (", ".join(beats.get("workers", [])) or beats.get("error", "none"))
        )
    for queue, depth in broker.get("queues", {}).items():
        click.echo(f"queue       {queue:<14} {depth}")
    outbox = status["outbox"]
    click.echo(
        f"outbox      {outbox['backlog']} waiting"
        + (f", oldest {outbox['oldest_age_seconds']}s" if outbox["backlog"] else "")
    )
    for state, count in status["notifications"].items():
        click.echo(f"notify      {state:<14} {count}")
    if not broker["reachable"]:
        sys.exit(1)


@bp.cli.command("deadlines-run")
@click.option("--on", "on", default=None, help="Bangkok day to run for (ISO), default today")
def deadlines_run_command(on: str | None) -> None:
    """Run the deadline engine now, in this process (what beat asks a worker to do hourly)."""
    from service.core.fiscal import local_today
    from service.core.tasks import send_task
    from service.deadlines.engine import active_rules, run_rule
    from service.notifications.operations import DISPATCH_TASK, DeliverySettings, chunks

    day = date.fromisoformat(on) if on else local_today()
    settings = DeliverySettings.of(current_app)
    session = db.session()
    counts = {}
    for rule in active_rules(session):
        ids = run_rule(session, rule, today=day, now=utcnow(), requeue_after=settings.requeue_after)
        session.commit()
        counts[rule.kind.value] = len(ids)
        for batch in chunks(ids):
            send_task(DISPATCH_TASK, batch)
    click.echo(json.dumps({"day": day.isoformat(), "new_notifications": counts}))


@bp.cli.command("rollups-compute")
@click.option("--year", "be_year", type=int, required=True, help="fiscal year (Buddhist Era)")
@click.option("--quarter", type=click.IntRange(1, 4), required=True)
def rollups_compute_command(be_year: int, quarter: int) -> None:
    """Compute a quarter's rollups now, in this process."""
    from service.rollups.compute import run_rollup

    run_rollup(
        db.session(),
        be_year,
        quarter,
        now=utcnow(),
        progress=lambda done, total, phase: click.echo(f"{done}/{total} {phase}"),
    )


@bp.cli.command("reminder-rules")
def reminder_rules_command() -> None:
    """Add the default reminder rule of every kind that has none (edits are kept)."""
    from service.deadlines.rules import ensure_default_rules

    added = ensure_default_rules(db.session())
    db.session.commit()
    click.echo(f"{len(added)} reminder rules added")
