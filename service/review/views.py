"""The review queue: submitted step results of the district's projects, accepted or returned one
by one or many at once. A bulk action takes each item in a savepoint of its own, so one refusal
never undoes the others, and answers per item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Select, exists, select, true
from sqlalchemy.orm import Session, joinedload, selectinload
from werkzeug.wrappers import Response

from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import drawn_version, ids_in
from service.core.fiscal import local_date
from service.core.labels import field_label
from service.core.paging import PAGE_ROWS, Paged, page_number, paged
from service.core.permissions import holds_anywhere
from service.core.sql import dialect_of, in_ids_or_query
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language
from service.org.models import Role, User
from service.org.scope import unit_ids_in_scope
from service.projects.models import PlanStep, Project, ProjectFigures, ResultState, StepResult
from service.projects.queries import run_or_owned_ids
from service.workflow.screens import (
    NO_DECISION,
    actor,
    gate,
    options_for,
    run_change,
    session,
    take_each,
)

bp = Blueprint("review", __name__)

ACTIONS = ("accept", "return")


def _in_the_district(db_session: Session, user: User) -> bool:
    return any(holds_anywhere(db_session, user, role) for role in (Role.OFFICER, Role.APPROVER))


district = gate(_in_the_district)


def _waiting() -> Select[StepResult]:
    """Submitted results of projects whose responsible or owning unit is in the user's scope,
    the earliest due first (a step past its end waits on this review to count), then by id,
    not in the order they were sent (the page and the export say so and show each result's
    due day): read off step_result's (state, due_on, id) index a page at a time, the
    scope as a set of the district's steps rather than a join to sort through."""
    user = actor()
    units = unit_ids_in_scope(session(), user)
    in_scope = (
        true()
        if units is None
        else StepResult.step_id.in_(
            select(PlanStep.id).where(
                in_ids_or_query(
                    dialect_of(session()),
                    PlanStep.project_id,
                    # Only projects with a result waiting (their kept figures say so, set
                    # in the transaction that submits one; a project without a figures row
                    # is asked too): a district's 3,600 steps were each probed for the 70
                    # results waiting, and grew with its projects.
                    run_or_owned_ids(
                        session(),
                        units,
                        ~exists().where(
                            ProjectFigures.project_id == Project.id,
                            ProjectFigures.waiting_results == 0,
                        ),
                    ),
                )
            )
        )
    )
    return (
        select(StepResult)
        .where(StepResult.state == ResultState.SUBMITTED, in_scope)
        .order_by(StepResult.due_on, StepResult.id)
    )


def review_queue(
    page: int = 1, after: str | None = None, size: int = PAGE_ROWS
) -> Paged[StepResult]:
    """The queue a page at a time with the total; each result with its step, project, unit,
    submitter and evidence loaded (a district's whole queue was 2,000 results and their lazy
    loads: 2.5 s, 800 KB)."""
    waiting = _waiting().options(
        joinedload(StepResult.step).joinedload(PlanStep.project),
        joinedload(StepResult.unit),
        joinedload(StepResult.submitted_by),
        selectinload(StepResult.evidence),
    )
    return paged(session(), waiting, page, size, after=after)


def _export_rows(db_session: Any, ids: Sequence[int], lang: str) -> list[tuple[Any, ...]]:
    """The exported values of the results `ids`, in that order (read in `db_session`)."""
    found = {
        r.id: r
        for r in db_session.scalars(
            select(StepResult)
            .where(StepResult.id.in_(ids))
            .options(
                joinedload(StepResult.step).joinedload(PlanStep.project),
                joinedload(StepResult.unit),
                joinedload(StepResult.submitted_by),
            )
        )
    }
    return [
        (
            r.id,
            r.step.project.code,
            f"{r.step.position}. {r.step.name}",
            r.unit.name(lang),
            r.completion,
            r.due_on,
            local_date(r.submitted_at) if r.submitted_at else None,
            r.submitted_by.name if r.submitted_by else "",
        )
        for r in (found[i] for i in ids if i in found)
    ]


EXPORT_COLUMNS = (
    Column(_l("Result"), lambda r: r[0], "number", 10),
    Column(_l("Project code"), lambda r: r[1], width=16),
    Column(_l("Step"), lambda r: r[2], width=50),
    Column(_l("Unit"), lambda r: r[3], width=28),
    Column(_l("Completion"), lambda r: r[4], "percent"),
    Column(_l("Planned end"), lambda r: r[5], "date"),
    Column(_l("Submitted"), lambda r: r[6], "date"),
    Column(_l("Name"), lambda r: r[7], width=24),
)


def _export(fmt: str) -> Any:
    """Every result of the queue the reader may see, read a chunk at a time."""
    ids = list(session().scalars(_waiting().with_only_columns(StepResult.id)))
    lang = current_language()
    rows = rows_in_chunks(ids, lambda s, chunk: _export_rows(s, chunk, lang))
    return download(fmt, "review-queue", EXPORT_COLUMNS, rows, _("Review queue"))


def _queue_page(
    status: int = 200,
    chosen: frozenset[int] = frozenset(),
    errors: dict[str, str] | None = None,
) -> tuple[str, int]:
    """The queue page; after a refused POST, with the reason typed, the results ticked and
    the refused field's message (`errors`: field name -> message)."""
    listing = review_queue(page_number(request.args.get("page")), request.args.get("after"))
    page = render_template(
        "review/queue.html",
        results=listing.rows,
        listing=listing,
        page_url=lambda number: url_for("review.queue", page=number),
        export_url=lambda fmt: url_for("review.queue", format=fmt),
        options={r.id: {o.name: o for o in options_for(r)} for r in listing.rows},
        reason=request.values.get("reason", ""),
        chosen=chosen,
        errors=errors or {},
    )
    return page, status


@bp.route("/review")
@district
def queue() -> Any:
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            abort(404)
        return _export(fmt)
    return _queue_page()


def _ids(raw_ids: list[str]) -> list[int]:
    return sorted({int(value) for value in raw_ids if value.isdigit()})


@bp.route("/review", methods=["POST"])
@district
def decide() -> Response | tuple[str, int]:
    """Accept or return the chosen results. `single` ("accept:12") acts on one row; otherwise
    `action` applies to every checked `ids`. Each item is taken in its own savepoint. Without
    an explicit decision (Enter in a field, a bare POST) nothing is taken: 400, the page again
    with what was typed and ticked (a decision is never assumed)."""
    single = request.form.get("single", "")
    if single:
        action, _sep, raw_id = single.partition(":")
        raw_ids = [raw_id]
    else:
        action = request.form.get("action", "")
        raw_ids = request.form.getlist("ids")
    reason = request.form.get("reason", "").strip()
    if action not in ACTIONS:
        flash(_("Not done: %(reason)s", reason=NO_DECISION), "error")
        return _queue_page(400, frozenset(ids_in(request.form.getlist("ids"))))
    ids = ids_in(raw_ids)
    if not ids:
        flash(_("Choose at least one result."), "error")
        return redirect(url_for("review.queue"))
    if action == "return" and not reason:
        # Every return needs the reason the school will read: said at the field, before
        # anything is taken, the results ticked kept (the row's own button ticks its row).
        errors = {"reason": _("write the reason the school will read before returning")}
        return _queue_page(422, frozenset(ids), errors)
    # A reason given with an acceptance is its note (`_accept` records it), never dropped.
    data = {"reason": reason}
    # Each row carries the version it was drawn at: a result sent again (or decided by
    # someone else) since the page was drawn is refused, not accepted unseen.
    drawn = {
        ident: version
        for ident in ids
        if (version := drawn_version({"version": request.form.get(f"version-{ident}")})) is not None
    }

    def answered(outcomes: list[Any]) -> Response:
        done: list[int] = []
        refused: list[tuple[int, str]] = []
        for outcome in outcomes:
            if outcome.refused is None:
                done.append(outcome.ident)
                continue
            problem = outcome.refused.reason
            if outcome.refused.fields:
                fields = outcome.refused.fields.items()
                problem += " (" + ", ".join(f"{field_label(k)}: {v}" for k, v in fields) + ")"
            refused.append((outcome.ident, problem))
        verb = _("accepted") if action == "accept" else _("returned")
        summary = _(
            "%(done)d %(verb)s, %(refused)d refused",
            done=len(done),
            verb=verb,
            refused=len(refused),
        )
        if refused:
            summary += ": " + "; ".join(f"#{ident} {problem}" for ident, problem in refused)
        flash(summary, "error" if refused else "info")
        return redirect(url_for("review.queue"))

    # Each item is taken (or refused) in its own savepoint; the refusals are answered per item.
    return run_change(
        lambda: take_each("step_result", ids, action, data, drawn),
        done="",
        back=url_for("review.queue"),
        again=lambda **_refused: redirect(url_for("review.queue")),
        answer=answered,
    )
