"""The school's home (its steps and money), the one-screen result form with evidence files, and
evidence downloads. The result screen also serves the district, who reviews from it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask import session as flask_session
from flask_login import login_required
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from service.budget.models import Allocation, Installment
from service.budget.operations import request_installment
from service.budget.permissions import can_see_allocation
from service.core.fields import Invalid, Money, drawn_version, value_of
from service.core.fiscal import local_today
from service.core.labels import label
from service.core.translate import gettext as _
from service.core.web import safe_next
from service.org.models import OrgUnit
from service.org.scope import active_roles, unit_filter
from service.projects.evidence import (
    Upload,
    replace_evidence,
    store_evidence,
    withdraw_evidence,
    withdrawable,
)
from service.projects.models import EvidenceFile, Project, StepResult
from service.projects.permissions import can_see_project, can_see_result
from service.projects.queries import projects_seen, visible_projects
from service.school.queries import ALLOCATIONS, SECTIONS, my_allocations, my_steps
from service.workflow.engine import Refused
from service.workflow.screens import actor, options_for, run_change, session, take

bp = Blueprint("school", __name__)


def _wants_json() -> bool:
    """The upload script posts with this header and reads JSON; a plain form gets pages."""
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@bp.route("/school")
@login_required
def home() -> str:
    """The reader's steps by section and their allocations; `?section=<name>&after=<cursor>`
    shows the rows of that section after the cursor (read by key), the others from the start."""
    user = actor()
    scope = unit_filter(session(), user)
    visible = visible_projects(session(), user)
    section = request.args.get("section")
    after = request.args.get("after") or None
    allocations, allocation_count = my_allocations(
        session(), user, after=after if section == ALLOCATIONS else None
    )
    paged_section = section if section in SECTIONS else None
    steps = my_steps(session(), user, local_today(), section=paged_section, after=after)

    def next_url(name: str, cursor: str) -> str:
        return url_for("school.home", section=name, after=cursor) + f"#{name}"

    return render_template(
        "school/home.html",
        assignments=active_roles(session(), user),
        unit_count=session().scalar(select(func.count()).select_from(OrgUnit).where(scope)),
        project_count=session().scalar(select(func.count()).select_from(Project).where(visible)),
        steps=steps,
        allocations=allocations.rows,
        allocation_page=allocations,
        allocation_count=allocation_count,
        # A recipient need not take part in the project it is paid from: the project's code
        # links only where its page would open for this reader.
        linked_projects=projects_seen(session(), user, [a.project for a in allocations.rows]),
        next_url=next_url,
        today=local_today(),
    )


def _visible_result(result_id: int) -> StepResult:
    result = session().get(StepResult, result_id)
    if result is None or not can_see_result(session(), actor(), result):
        abort(404)
    return result


def _render_result(
    result: StepResult,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    refused: bool = False,
) -> str:
    """The result page; `form` and `errors` a refused submission's input and problems
    (`refused`: the page answers a refused submission, whose files were not kept)."""
    return render_template(
        "school/result.html",
        **_facts(result),
        **_offers(result),
        form=form
        or {
            # Never reported: an empty field, not a "0" to delete first.
            "completion": f"{result.completion.normalize():f}" if result.submitted_at else "",
            "narrative": result.narrative,
        },
        errors=errors or {},
        refused=refused,
        max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
    )


def _facts(result: StepResult) -> dict[str, Any]:
    """What school/_result_facts.html shows of `result`, on its page and to the script."""
    return {
        "result": result,
        "step": result.step,
        "project": result.step.project,
        "project_visible": can_see_project(session(), actor(), result.step.project),
        "today": local_today(),
    }


def _offers(result: StepResult) -> dict[str, Any]:
    """What school/_result_evidence.html and _result_actions.html offer the signed-in user to
    do with `result`, on its page and to the script (with `result` itself)."""
    return {
        "evidence": result.current_evidence,
        "withdrawn": result.withdrawn_evidence,
        "withdrawable": withdrawable(session(), actor(), result),
        "options": options_for(result),
    }


def _why_not_sent(result: StepResult) -> str | None:
    """Why the signed-in user cannot send `result` now, as its page says it; None if they
    can."""
    submit = next((o for o in options_for(result) if o.name == "submit"), None)
    if submit is None:
        return _("This result is %(state)s: nothing to submit now.", state=label(result.state))
    if not submit.allowed:
        return f"{_('You cannot submit now')}: {submit.reason}"
    return None


@bp.route("/results/<int:result_id>")
@login_required
def result(result_id: int) -> str:
    return _render_result(_visible_result(result_id))


def _changed_while_open(result: StepResult) -> Refused:
    """Why a result sent from a page drawn before it changed (another tab sent it, the
    district accepted or returned it) is refused (409), naming where it stands now; to send
    it again only if it can be sent now (sent from another tab, it waits for review)."""
    if _why_not_sent(result) is not None:
        reason = _(
            "this result changed while your page was open: it is now %(state)s, so it cannot"
            " be sent from here. What you typed is still here to copy",
            state=label(result.state),
        )
    else:
        reason = _(
            "this result changed while your page was open: it is now %(state)s. What you typed"
            " is still here: check the result as it stands, then send again if you still mean to",
            state=label(result.state),
        )
    return Refused(409, reason, state=result.state.value)


@bp.route("/results/<int:result_id>", methods=["POST"])
@login_required
def submit_result(result_id: int) -> Response | tuple[str | Response, int]:
    """Submit completion, narrative and evidence files in one go: the files are kept only if
    the submission is accepted by the engine (all or nothing). A form drawn at another
    version of the result (`version`) is refused with 409: a decision taken meanwhile is not
    overwritten unseen."""
    result = _visible_result(result_id)
    drawn = drawn_version(request.form)
    form = {
        "completion": request.form.get("completion", "").strip(),
        "narrative": request.form.get("narrative", ""),
    }
    uploads = [
        Upload(f.filename or "", f.read()) for f in request.files.getlist("files") if f.filename
    ]
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    written: list[Path] = []

    def change() -> Any:
        for upload in uploads:
            _evidence, path = store_evidence(
                session(),
                actor(),
                result,
                upload,
                folder,
                current_app.config["MAX_CONTENT_LENGTH"],
            )
            written.append(path)
        try:
            return take("step_result", result.id, "submit", form, expected_version=drawn)
        except Refused as refused:
            # The engine read the row afresh under its lock: `result` is as it stands now.
            if refused.status == 409 and drawn is not None and result.version != drawn:
                raise _changed_while_open(result) from None
            raise

    def again(errors: dict[str, str], status: int, **_typed: Any) -> Any:
        now = _visible_result(result_id)
        if _wants_json():
            # The script keeps the page it sent from: it is told where the result stands now
            # (another tab or person moved it meanwhile) and shows it in place of what the
            # page showed (`facts`), where to see it, the version its form now stands for
            # (sent again, it is sent knowingly) and, when it cannot be sent at all now, why
            # (`cannot_send`): the page's form then keeps what was typed only to copy. What
            # else the page offers to do with the result is as it stands now too (`evidence`,
            # `actions`): a tab drawn before it was sent offered to start it.
            offers = _offers(now)
            return jsonify(
                error=_flashed_reason(),
                fields=errors,
                state={"value": now.state.value, "name": label(now.state)},
                facts=render_template(
                    "school/_result_facts.html", **_facts(now), changed=status == 409
                ),
                cannot_send=_why_not_sent(now),
                evidence=render_template("school/_result_evidence.html", result=now, **offers),
                actions=render_template("school/_result_actions.html", result=now, **offers),
                version=now.version,
                latest=url_for("school.result", result_id=result_id),
            ), status
        return _render_result(now, form=form, errors=errors, refused=True), status

    def submitted(_result: Any) -> Any:
        flash(_("Your result is submitted for review."), "info")
        target = url_for("school.result", result_id=result.id)
        if _wants_json():
            return jsonify(location=target), 200
        return redirect(target)

    return run_change(
        change, done="", back="", again=again, answer=submitted, undo=lambda: _unlink(written)
    )


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _flashed_reason() -> str:
    """The refusal run_change has just flashed, taken back: the upload script shows it
    itself, and the next page must not show it again."""
    flashes = flask_session.get("_flashes") or []
    if not flashes:
        return ""
    _category, message = flashes.pop()
    flask_session["_flashes"] = flashes
    return str(message)


@bp.route("/evidence/<int:evidence_id>")
@login_required
def evidence(evidence_id: int) -> Response:
    """The file as an attachment, to those who may see its result; 404 for anyone else."""
    row = session().get(EvidenceFile, evidence_id)
    if row is None or row.withdrawn_at is not None:
        abort(404)
    if not can_see_result(session(), actor(), row.result):
        abort(404)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / row.stored_name
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _change_evidence(evidence_id: int, replace: bool) -> Response | tuple[str, int]:
    """Withdraw one evidence file, or withdraw it and store the file chosen in its place, in
    one transaction; back to the result page, or the page with the reason when refused."""
    row = session().get(EvidenceFile, evidence_id)
    if row is None or not can_see_result(session(), actor(), row.result):
        abort(404)
    result_id = row.result_id
    name = row.original_name
    written: list[Path] = []

    def change() -> None:
        if replace:
            chosen = request.files.get("file")
            if chosen is None or not chosen.filename:
                message = _("Choose the file to put in place of %(name)s", name=name)
                raise Refused(422, message, fields={"files": message})
            _new, path = replace_evidence(
                session(),
                actor(),
                row,
                Upload(chosen.filename, chosen.read()),
                Path(current_app.config["UPLOAD_FOLDER"]),
                current_app.config["MAX_CONTENT_LENGTH"],
            )
            written.append(path)
        else:
            withdraw_evidence(session(), actor(), row)

    def again(errors: dict[str, str], status: int, **_typed: Any) -> tuple[str, int]:
        return _render_result(_visible_result(result_id), errors=errors), status

    # A refusal to someone who may see the result but not change its files (403) shows the
    # page with the reason, as any other refusal; one who may not see it gets 404.
    return run_change(
        change,
        done=(
            _("%(name)s is replaced.", name=name)
            if replace
            else _("%(name)s is withdrawn.", name=name)
        ),
        back=url_for("school.result", result_id=result_id),
        again=again,
        undo=lambda: _unlink(written),
        error_pages=(404,),
    )


@bp.route("/evidence/<int:evidence_id>/withdraw", methods=["POST"])
@login_required
def withdraw_evidence_view(evidence_id: int) -> Response | tuple[str, int]:
    """The school takes back a wrong file before its result is accepted (kept in history)."""
    return _change_evidence(evidence_id, replace=False)


@bp.route("/evidence/<int:evidence_id>/replace", methods=["POST"])
@login_required
def replace_evidence_view(evidence_id: int) -> Response | tuple[str, int]:
    """Withdraw a file and upload the right one in its place, in one request."""
    return _change_evidence(evidence_id, replace=True)


@bp.route("/allocations/<int:allocation_id>/installments", methods=["POST"])
@login_required
def request_installment_view(allocation_id: int) -> Response | tuple[str, int]:
    """Ask for an installment (เงินประจำงวด) of an approved allocation."""
    allocation = session().get(Allocation, allocation_id)
    if allocation is None or not can_see_allocation(session(), actor(), allocation):
        abort(404)
    raw = request.form.get("amount", "").strip()
    purpose = request.form.get("purpose", "")
    back = request.form.get("next") or url_for("school.home")

    def change() -> Installment:
        try:
            amount = value_of(Money(commas=True, required=True), request.form, "amount")
        except Invalid as invalid:
            raise Refused(422, invalid.message, fields={"amount": invalid.message}) from None
        return request_installment(session(), actor(), allocation, amount, purpose)

    def again(form: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
        # The reason is flashed above the form; the fields say what to mend.
        page = render_template(
            "school/installment_refused.html",
            allocation=allocation,
            refused=SimpleNamespace(reason="", fields=errors),
            form={"amount": raw, "purpose": purpose},
            back=back,
        )
        return page, status

    return run_change(
        change,
        done=_("The installment is requested."),
        back=safe_next(back) or url_for("school.home"),
        again=again,
    )
