"""The baseline of the web benchmarks: a bare Flask app whose one endpoint does one
primary-key SELECT on the same database, served by gunicorn exactly as the real app is.

    gunicorn 'bench.bare_app:create_app()'   (DATABASE_URL names the database)
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from service.core.db import make_engine


def create_app() -> Flask:
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    engine = make_engine(url)
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return "ok"

    @app.get("/bare/<int:ident>")
    def bare(ident: int) -> ResponseReturnValue:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT id, code, name FROM project WHERE id = :id"), {"id": ident}
            ).one_or_none()
        if row is None:
            return jsonify(error="not found"), 404
        return jsonify(id=row.id, code=row.code, name=row.name)

    return app
