"""Opening quarterly evaluations (idempotent: one per subject and quarter)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.core.translate import gettext as _
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.org.models import User
from service.projects.models import Project
from service.workflow.engine import Refused


def open_evaluation(
    session: Session,
    actor: User | None,
    fiscal_year: FiscalYear,
    quarter: int,
    *,
    project: Project | None = None,
    kpi: Kpi | None = None,
) -> Evaluation:
    """The evaluation of `project` or `kpi` for the quarter, opened if it is not yet.

    Raises Refused(422) for a quarter outside 1..4 or not exactly one subject.
    """
    if quarter not in (1, 2, 3, 4):
        raise Refused(422, _("quarter must be 1 to 4"), fields={"quarter": _("must be 1 to 4")})
    if (project is None) == (kpi is None):
        raise Refused(422, _("an evaluation is of a project or of a KPI"))
    column = Evaluation.project_id if project else Evaluation.kpi_id
    subject_id = project.id if project else kpi.id  # type: ignore[union-attr]
    existing = session.scalar(
        select(Evaluation).where(
            column == subject_id,
            Evaluation.fiscal_year_id == fiscal_year.id,
            Evaluation.quarter == quarter,
        )
    )
    if existing is not None:
        return existing
    evaluation = Evaluation(
        subject_type="project" if project else "kpi",
        project=project,
        kpi=kpi,
        fiscal_year=fiscal_year,
        quarter=quarter,
        state=EvaluationState.OPEN,
    )
    session.add(evaluation)
    session.flush()
    record(
        session,
        action="evaluation.open",
        object_type="evaluation",
        object_id=evaluation.id,
        actor=actor,
        to_state="open",
    )
    return evaluation
