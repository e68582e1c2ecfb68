"""Operations endpoints: health for load balancers and compose."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from service.extensions import db

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when the database answers, 503 otherwise; never needs a login."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # a health check reports failure, it does not raise
        return jsonify(status="error", database=str(error.__class__.__name__)), 503
    return jsonify(status="ok", database="ok")
