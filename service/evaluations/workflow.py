"""The quarterly evaluation workflow: open → self-assessed → scored → published (frozen);
reopening needs a reason and keeps the published score in the revision history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from service.core import translate
from service.core.db import utcnow
from service.core.fiscal import quarter_bounds
from service.core.permissions import Answer
from service.core.thai import format_date
from service.core.translate import gettext as _
from service.evaluations.models import Evaluation, EvaluationRevision, EvaluationState
from service.evaluations.permissions import can_see_evaluation, may_evaluate, may_self_assess
from service.threads.operations import open_with_reason
from service.workflow.engine import (
    REASON,
    Context,
    Transition,
    Workflow,
    decimal_field,
    register,
    text_field,
)

E = EvaluationState
SCORE = decimal_field("score", minimum=Decimal(0), maximum=Decimal(100), example="82.5")
SUB_1 = decimal_field(
    "sub_score_1", minimum=Decimal(0), maximum=Decimal(100), required=False, example="82.5"
)
SUB_2 = decimal_field(
    "sub_score_2", minimum=Decimal(0), maximum=Decimal(100), required=False, example="82.5"
)


def _who_owns(ctx: Context) -> Answer:
    return may_self_assess(ctx.session, ctx.principal, ctx.obj)


def _who_evaluates(ctx: Context) -> Answer:
    return may_evaluate(ctx.session, ctx.principal, ctx.obj)


def _quarter_begun(ctx: Context) -> str | None:
    """A quarter is evaluated from its first day on: a score given (and published) for a
    quarter that has not begun judges work nobody has done yet."""
    evaluation: Evaluation = ctx.obj
    starts, _ends = quarter_bounds(evaluation.fiscal_year.be_year, evaluation.quarter)
    if ctx.today < starts:
        return _(
            "quarter %(quarter)s of %(year)s begins on %(day)s: it cannot be evaluated before",
            quarter=evaluation.quarter,
            year=evaluation.fiscal_year.be_year,
            day=format_date(starts, translate.current()),
        )
    return None


def _self_assess(ctx: Context) -> dict[str, Any]:
    evaluation: Evaluation = ctx.obj
    evaluation.self_value = ctx.data["self_value"]
    evaluation.self_narrative = ctx.data["self_narrative"]
    return {"self_value": evaluation.self_value}


def _score(ctx: Context) -> dict[str, Any]:
    evaluation: Evaluation = ctx.obj
    evaluation.score = ctx.data["score"]
    evaluation.sub_score_1 = ctx.data.get("sub_score_1")
    evaluation.sub_score_2 = ctx.data.get("sub_score_2")
    evaluation.comment = ctx.data.get("comment") or ""
    evaluation.evaluator_id = ctx.actor.id
    evaluation.scored_at = utcnow()
    return {
        "score": evaluation.score,
        "sub_score_1": evaluation.sub_score_1,
        "sub_score_2": evaluation.sub_score_2,
    }


def _publish(ctx: Context) -> dict[str, Any]:
    ctx.obj.published_at = utcnow()
    return {"score": ctx.obj.score}


def _reopen(ctx: Context) -> dict[str, Any]:
    evaluation: Evaluation = ctx.obj
    ctx.session.add(
        EvaluationRevision(
            evaluation_id=evaluation.id,
            score=evaluation.score,
            sub_score_1=evaluation.sub_score_1,
            sub_score_2=evaluation.sub_score_2,
            comment=evaluation.comment,
            evaluator_id=evaluation.evaluator_id,
            published_at=evaluation.published_at,
            reopened_by_id=ctx.actor.id,
            reason=ctx.data["reason"],
        )
    )
    evaluation.published_at = None
    # The reopening's reason opens the evaluation's thread: the owners answer there.
    open_with_reason(
        ctx.session, ctx.actor, "evaluation", evaluation, "evaluation.reopen", ctx.data["reason"]
    )
    return {"previous_score": evaluation.score}


EVALUATION = register(
    Workflow(
        name="evaluation",
        model=Evaluation,
        states=tuple(s.value for s in EvaluationState),
        initial=E.OPEN.value,
        visible=can_see_evaluation,
        unit_of=lambda e: e.project.responsible_unit_id if e.project else e.kpi.owner_unit_id,
        project_of=lambda e: e.project_id,
        payload=lambda e: {
            "kpi_id": e.kpi_id,
            "quarter": e.quarter,
            "score": e.score,
        },
        transitions=(
            Transition(
                "self_assess",
                (E.OPEN, E.SELF_ASSESSED),
                E.SELF_ASSESSED,
                _who_owns,
                ("ประเมินตนเอง", "Self-assess"),
                requires=(decimal_field("self_value", places=4), text_field("self_narrative")),
                guards=(_quarter_begun,),
                effect=_self_assess,
            ),
            Transition(
                "score",
                (E.OPEN, E.SELF_ASSESSED, E.SCORED),
                E.SCORED,
                _who_evaluates,
                ("ให้คะแนน", "Score"),
                requires=(SCORE, SUB_1, SUB_2, text_field("comment", required=False)),
                guards=(_quarter_begun,),
                effect=_score,
            ),
            Transition(
                "publish",
                (E.SCORED,),
                E.PUBLISHED,
                _who_evaluates,
                ("เผยแพร่ผล", "Publish"),
                guards=(_quarter_begun,),
                effect=_publish,
            ),
            Transition(
                "reopen",
                (E.PUBLISHED,),
                E.SCORED,
                _who_evaluates,
                ("เปิดแก้ไขผล", "Reopen"),
                requires=(REASON,),
                effect=_reopen,
            ),
        ),
    )
)
