"""Tidtam: the Flask application factory.

The factory builds and wires the app and nothing else: it does not migrate, seed or connect.
Commands do that (`flask --app service db upgrade`, `demo-data`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from service.config import load_config
from service.core.listeners import register_listeners
from service.core.tasks import celery_init_app
from service.extensions import init_extensions

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("tidtam")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment; `overrides` win (tests use them)."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("TIDTAM_INSTANCE", str(ROOT / "instance")),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_config(app.instance_path))
    if overrides:
        app.config.update(overrides)

    init_extensions(app)
    celery_init_app(app)
    register_listeners()
    from service.core import input_guard

    input_guard.init_app(app)  # before any route: it installs the bounded `int` converter

    from service import api, cli
    from service.auth import account as account_views
    from service.auth import sessions as auth_sessions
    from service.auth import views as auth_views
    from service.core import delivery, presentation, web
    from service.dashboard import views as dashboard_views
    from service.ops import views as ops_views
    from service.org import views as org_views
    from service.projects import views as project_views
    from service.public import views as public_views
    from service.workflow import views as workflow_views

    web.init_app(app)
    delivery.init_app(app)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(org_views.bp)
    app.register_blueprint(account_views.bp)
    auth_sessions.init_app(app)
    app.register_blueprint(ops_views.bp)
    app.register_blueprint(workflow_views.bp)
    presentation.init_app(app)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(project_views.bp)
    app.register_blueprint(public_views.bp)
    api.init_app(app)
    cli.init_app(app)

    # The role work screens (school, review, budget, editor, evaluations, admin).
    from service.admin import views as admin_views
    from service.audit import views as audit_views
    from service.budget import views as budget_views
    from service.evaluations import views as evaluation_views
    from service.kpis import views as kpi_views
    from service.projects import plan_views
    from service.projects import work_views as project_work_views
    from service.review import views as review_views
    from service.school import views as school_views
    from service.threads import views as thread_views
    from service.workflow import screens

    screens.init_app(app)
    for work_views in (
        school_views,
        review_views,
        budget_views,
        project_work_views,
        evaluation_views,
        kpi_views,
        admin_views,
        thread_views,
        audit_views,
        plan_views,
    ):
        app.register_blueprint(work_views.bp)

    # The workers' pages, health and commands: notification centre, rollup progress,
    # /healthz/workers and `flask workers-status`.
    from service.calendar import views as calendar_views
    from service.notifications import views as notification_views
    from service.ops import workers as worker_ops
    from service.rollups import views as rollup_views

    for worker_views in (notification_views, rollup_views, worker_ops, calendar_views):
        app.register_blueprint(worker_views.bp)

    log.info("Tidtam on %s", describe_stack(app))
    return app


def describe_stack(app: Flask) -> str:
    """One line naming the database and broker in use, passwords hidden."""
    from sqlalchemy.engine import make_url

    database = make_url(app.config["DATABASE_URL"]).render_as_string(hide_password=True)
    broker = app.config["CELERY"]["broker_url"]
    broker_shown = (
        make_url(broker).render_as_string(hide_password=True) if "://" in broker else broker
    )
    return f"database {database}, broker {broker_shown}"
