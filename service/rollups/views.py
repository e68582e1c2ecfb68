"""Rollups on demand: an admin starts the computation of a fiscal year's quarter, and any
signed-in page can poll the task's progress (JSON). The full UI builds on these two."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from service.core.fields import BeYear, Count, Invalid, value_of
from service.core.permissions import administers
from service.core.tasks import TaskName, send_task
from service.extensions import db

bp = Blueprint("rollups", __name__)

COMPUTE_TASK = TaskName.ROLLUPS_COMPUTE


@bp.route("/admin/rollups", methods=["POST"])
@login_required
def start() -> ResponseReturnValue:
    """Start the rollup of `fiscal_year` (Buddhist Era) `quarter`; answer 202 with the task id
    and where to poll it."""
    # A rollup covers the whole tree: for the admins of a root unit.
    if not administers(db.session(), current_user._get_current_object(), None):
        abort(403)
    try:
        be_year = value_of(BeYear(required=True), request.form, "fiscal_year")
        quarter = value_of(Count(4, required=True), request.form, "quarter")
    except Invalid as invalid:
        return jsonify(error=f"{invalid.name}: {invalid.message}"), 422
    if not 1 <= quarter <= 4:
        return jsonify(error="quarter is 1..4 and fiscal_year a Buddhist Era year"), 422
    task_id = str(uuid.uuid4())
    send_task(COMPUTE_TASK, be_year, quarter, task_id=task_id)
    status_url = url_for("rollups.progress", task_id=task_id)
    return jsonify(task_id=task_id, status_url=status_url), 202, {"Location": status_url}


@bp.route("/rollups/tasks/<task_id>")
@login_required
def progress(task_id: str) -> ResponseReturnValue:
    """{"state": PENDING|STARTED|PROGRESS|SUCCESS|FAILURE, "done", "total", "phase"}."""
    result = current_app.extensions["celery"].AsyncResult(task_id)
    info = result.info if isinstance(result.info, dict) else {}
    answer = {"task_id": task_id, "state": result.state}
    for key in ("done", "total", "phase", "error"):
        if key in info:
            answer[key] = info[key]
    if result.state == "FAILURE":
        answer["error"] = str(result.info)
    return jsonify(answer)
