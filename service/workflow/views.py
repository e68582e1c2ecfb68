"""/docs/workflows: every workflow's table, as a diagram and as Mermaid text, from the same
data the engine runs, so the picture and the rules never disagree."""

from __future__ import annotations

from flask import Blueprint, render_template

from service.workflow import diagram
from service.workflow.engine import load_workflows

bp = Blueprint("workflows", __name__)


@bp.route("/docs/workflows")
def workflows() -> str:
    tables = []
    for workflow in load_workflows().values():
        tables.append(
            {
                "workflow": workflow,
                "drawing": diagram.drawing(workflow),
                "mermaid": workflow.mermaid(),
            }
        )
    return render_template("docs/workflows.html", tables=tables)
