"""The district's project editor: every field of the legacy page, the weighted plan steps with
their total, who reports each step, progress reports, and the plan's transitions.

Saving the editor is one transaction: texts and flags, objectives and targets, strategy links
and steps go through the project operations, and a refusal re-renders the form as typed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from service.core.fields import Day, Invalid, Money, Percent, drawn_version, ids_in, value_of
from service.core.fiscal import fiscal_year_of, local_today
from service.core.labels import field_label
from service.core.permissions import holds_anywhere
from service.core.progress import weights_problem, weights_total
from service.core.thai import normalize_thai, read_code
from service.core.translate import gettext as _
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.scope import unit_filter
from service.projects.models import PlanStep, Project, ProjectKind, ProjectState, TargetKind
from service.projects.operations import (
    add_progress_report,
    assign_result,
    create_project,
    hold_unchanged,
    link_strategies,
    remove_steps,
    save_step,
    set_objectives_and_targets,
    step_problems,
    update_project,
)
from service.projects.permissions import can_see_project, may_edit_plan
from service.strategy.models import StrategyNode
from service.workflow.engine import Refused
from service.workflow.screens import actor, gate, options_for, run_change, session

bp = Blueprint("editor", __name__)

TEXTS = ("name", "rationale", "unit_codes", "contact_name", "contact_phone")
REPORTING_KINDS = (UnitKind.DIVISION, UnitKind.SCHOOL_NETWORK, UnitKind.SCHOOL)


# ---- reading the form ------------------------------------------------------------------------


def _decimal(raw: str, field: str, problems: dict[str, str], number: Any = Money) -> Decimal | None:
    """`raw` read as money (or `number`: Percent) into its column; a problem noted if not."""
    try:
        found: Decimal = value_of(number(commas=True, required=True), {field: raw}, field)
    except Invalid as invalid:
        problems[field] = invalid.message
        return None
    return found


def _date(raw: str, field: str, problems: dict[str, str]) -> date | None:
    try:
        found: date = value_of(Day(typed=True, required=True), {field: raw}, field)
    except Invalid as invalid:
        problems[field] = invalid.message
        return None
    return found


def _chosen(model: Any, raw: str | None) -> Any:
    """The row of `model` whose id `raw` holds, or None."""
    ids = ids_in([raw or ""])
    return session().get(model, ids[0]) if ids else None


def form_steps(form: MultiDict[str, str]) -> list[dict[str, str]]:
    """The step rows as typed (blank rows dropped), in their order on the page. A stored step
    whose "remove" box is ticked keeps its row, marked "remove", so a refusal shows it again."""
    columns = ("position", "name", "weight", "start", "end", "unit")
    values = {c: form.getlist(f"step_{c}") for c in columns}
    removed = set(form.getlist("step_remove"))
    count = max((len(v) for v in values.values()), default=0)
    rows = []
    for index in range(count):
        row = {c: (values[c][index] if index < len(values[c]) else "").strip() for c in columns}
        row["remove"] = "on" if row["position"] and row["position"] in removed else ""
        if row["name"] or row["weight"] or row["start"] or row["end"]:
            rows.append(row)
    return rows


def form_targets(form: MultiDict[str, str]) -> list[dict[str, str]]:
    kinds, texts = form.getlist("target_kind"), form.getlist("target_text")
    return [
        {"kind": kind, "text": text.strip()}
        for kind, text in zip(kinds, texts, strict=False)
        if text.strip()
    ]


def _form_values(project: Project | None) -> dict[str, Any]:
    """The editor's values: the project as stored, or blank for a new one."""
    if project is None:
        return {
            "kind": ProjectKind.ROUTINE.value,
            "in_plan": True,
            "multi_year": False,
            "objectives": [],
            "targets": [],
            "strategies": [],
            "steps": [],
        }
    return {
        **{name: getattr(project, name) for name in TEXTS},
        "code": project.code,
        "fiscal_year_id": str(project.fiscal_year_id),
        "owner_unit_id": str(project.owner_unit_id),
        "responsible_unit_id": str(project.responsible_unit_id),
        "kind": project.kind.value,
        "approved_budget": f"{project.approved_budget:f}",
        "multi_year": project.multi_year,
        "in_plan": project.in_plan,
        "objectives": [o.text for o in project.objectives],
        "targets": [{"kind": t.kind.value, "text": t.text} for t in project.targets],
        "strategies": [str(n.id) for n in project.strategies],
        "steps": [
            {
                "position": str(s.position),
                "name": s.name,
                "weight": f"{s.weight.normalize():f}",
                "start": s.planned_start.isoformat(),
                "end": s.planned_end.isoformat(),
                "unit": str(s.responsible_unit_id or ""),
                "remove": "",
            }
            for s in project.steps
        ],
    }


def _typed_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """The editor's values as the user typed them, to show again after a refusal."""
    values: dict[str, Any] = {name: form.get(name, "") for name in TEXTS}
    for name in (
        "code",
        "fiscal_year_id",
        "owner_unit_id",
        "responsible_unit_id",
        "kind",
        "approved_budget",
    ):
        values[name] = form.get(name, "")
    values["multi_year"] = form.get("multi_year") == "on"
    values["in_plan"] = form.get("in_plan") == "on"
    values["objectives"] = [t for t in form.getlist("objective") if t.strip()]
    values["targets"] = form_targets(form)
    values["strategies"] = form.getlist("strategy")
    values["steps"] = form_steps(form)
    return values


# ---- pages -----------------------------------------------------------------------------------


def _choices() -> dict[str, Any]:
    user = actor()
    units = list(
        session().scalars(
            select(OrgUnit).where(unit_filter(session(), user)).order_by(OrgUnit.path)
        )
    )
    return {
        "years": list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year))),
        "units": units,
        "reporting_units": [u for u in units if u.kind in REPORTING_KINDS],
        "strategy_nodes": list(session().scalars(select(StrategyNode).order_by(StrategyNode.code))),
        "kinds": list(ProjectKind),
        "target_kinds": list(TargetKind),
    }


def _weights_summary(values: dict[str, Any]) -> tuple[str, str | None]:
    weights = []
    for row in values["steps"]:
        if row.get("remove"):
            continue
        try:
            weights.append(Decimal(row["weight"].replace(",", "")))
        except InvalidOperation:
            continue
    finite = [w for w in weights if w.is_finite()]
    total = f"{weights_total(finite).normalize():f}"
    problem = weights_problem(finite)
    if problem and not any(w < 0 for w in finite):
        problem = _("weights sum to %(total)s, not 100", total=total)  # the same, in Thai too
    return total, problem


#: The editor's fields as the page shows them, top to bottom (editor/project.html); a row's
#: problems are keyed `target-<index>` and `step-<row>-<field>`.
FORM_ORDER = (
    "code",
    "fiscal_year_id",
    "name",
    "owner_unit_id",
    "responsible_unit_id",
    "unit_codes",
    "kind",
    "rationale",
    "target",
    "contact_name",
    "contact_phone",
    "approved_budget",
    "step",
)
STEP_ORDER = ("name", "weight", "start", "end", "planned_end")


def _in_form_order(errors: dict[str, str]) -> dict[str, str]:
    """`errors` in the order their fields stand on the form, the rows by number: the summary
    at the top names them as the reader meets them (the project's name first, not after the
    step rows its problems were found beside). Keys of no field of the form keep their order
    after the rest."""

    def place(key: str) -> tuple[int, int, int]:
        head, _dash, rest = key.partition("-")
        if head == "target" and rest.isdigit():
            return FORM_ORDER.index("target"), int(rest), 0
        row, _dash, part = rest.partition("-")
        if head == "step" and row.isdigit():
            at = STEP_ORDER.index(part) if part in STEP_ORDER else len(STEP_ORDER)
            return FORM_ORDER.index("step"), int(row), at
        if key in FORM_ORDER:
            return FORM_ORDER.index(key), 0, 0
        return len(FORM_ORDER), 0, 0

    return dict(sorted(errors.items(), key=lambda item: place(item[0])))


def _render(
    project: Project | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
    *,
    changed_meanwhile: bool = False,
) -> tuple[str, int]:
    """The editor page: `values` in its fields; the form carries the version of the project
    it is drawn at (`values["version"]`, or the project's own)."""
    total, problem = _weights_summary(values)
    editable = project is None or project.state is ProjectState.DRAFT
    page = render_template(
        "editor/project.html",
        project=project,
        values=values,
        errors=_in_form_order(errors or {}),
        editable=editable,
        version=values.get("version", project.version if project is not None else None),
        changed_meanwhile=changed_meanwhile,
        weights_total=total,
        weights_problem=problem,
        options=options_for(project) if project is not None else [],
        today=local_today(current_app.config["TIMEZONE"]).isoformat(),
        **_choices(),
    )
    return page, status


def _in_the_district(db_session: Session, user: User) -> bool:
    return any(holds_anywhere(db_session, user, r) for r in (Role.OFFICER, Role.APPROVER))


district = gate(_in_the_district)


def _project_for_editor(project_id: int) -> Project:
    project = session().get(Project, project_id)
    if project is None or not can_see_project(session(), actor(), project):
        abort(404)
    if not may_edit_plan(session(), actor(), project):
        abort(403)
    return project


def _year_of_today() -> FiscalYear | None:
    """The fiscal year today lies in, when it is there and open for work: a new project's
    year unless the officer chooses another."""
    today = local_today(current_app.config["TIMEZONE"])
    return session().scalar(
        select(FiscalYear).where(
            FiscalYear.be_year == fiscal_year_of(today), FiscalYear.is_open.is_(True)
        )
    )


@bp.route("/projects/new", methods=["GET"])
@district
def new() -> tuple[str, int]:
    values = _form_values(None)
    # Without today's year the form chooses none (the select's first option is blank) rather
    # than the first year listed, the oldest: a project is not filed under it unseen.
    year = _year_of_today()
    values["fiscal_year_id"] = str(year.id) if year is not None else ""
    return _render(None, values)


@bp.route("/projects/<int:project_id>/edit", methods=["GET"])
@login_required
def edit(project_id: int) -> tuple[str, int]:
    project = _project_for_editor(project_id)
    return _render(project, _form_values(project))


def _apply(project: Project, form: MultiDict[str, str]) -> None:
    """Every change of the form, through the operations. Raises Refused with every field
    problem found (422), or the operations' own refusals."""
    read, problems = _read_form(form)
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    _save(project, form, read)


def _read_form(form: MultiDict[str, str]) -> tuple[Any, dict[str, str]]:
    """The form read, and every problem of it by field (each step row's too), before
    anything is saved."""
    problems: dict[str, str] = {}
    if "name" in form and not normalize_thai(form["name"]):
        problems["name"] = _("is required")
    budget = _decimal(form.get("approved_budget", ""), "approved_budget", problems)
    if budget is not None and budget < 0:
        problems["approved_budget"] = _("must not be negative")
    kind = form.get("kind", "")
    if kind not in {k.value for k in ProjectKind}:
        problems["kind"] = _("choose a kind")
    targets = []
    for index, row in enumerate(form_targets(form)):
        if row["kind"] not in {k.value for k in TargetKind}:
            problems[f"target-{index}"] = _("choose quantity or quality")
        else:
            targets.append((TargetKind(row["kind"]), row["text"]))
    # Every row of the plan in one save: `row` is the row's number on the page (the errors'
    # keys), the rows kept are stored in their order from position 1.
    steps = []
    removed: list[int] = []
    for row_number, row in enumerate(form_steps(form), start=1):
        if row["remove"]:
            removed.extend(ids_in([row["position"]]))
            continue
        prefix = f"step-{row_number}-"
        weight = _decimal(row["weight"], prefix + "weight", problems, Percent)
        start = _date(row["start"], prefix + "start", problems)
        end = _date(row["end"], prefix + "end", problems)
        unit = _chosen(OrgUnit, row["unit"])
        # the step's own rules too, so that every row's problems are named in one answer
        for key, problem in step_problems(row["name"], weight, start, end).items():
            problems.setdefault(prefix + key, problem)
        steps.append((row_number, row["name"], weight, start, end, unit))
    node_ids = ids_in(form.getlist("strategy"))
    nodes = list(session().scalars(select(StrategyNode).where(StrategyNode.id.in_(node_ids))))
    return (budget, kind, targets, steps, removed, nodes), problems


def _save(project: Project, form: MultiDict[str, str], read: Any) -> None:
    """What `_read_form` read, saved through the operations (their refusals raised)."""
    budget, kind, targets, steps, removed, nodes = read
    changes: dict[str, Any] = {name: form.get(name, "") for name in TEXTS}
    changes.update(
        kind=kind,
        approved_budget=budget,
        multi_year=form.get("multi_year") == "on",
        in_plan=form.get("in_plan") == "on",
    )
    user = actor()
    update_project(session(), user, project, changes)
    objectives = [t for t in form.getlist("objective") if t.strip()]
    set_objectives_and_targets(session(), user, project, objectives, targets)
    link_strategies(session(), user, project, nodes)
    if removed:
        remove_steps(session(), user, project, removed)
    for position, (row_number, name, weight, start, end, unit) in enumerate(steps, start=1):
        assert weight is not None and start is not None and end is not None
        try:
            save_step(
                session(),
                user,
                project,
                position=position,
                name=name,
                weight=weight,
                planned_start=start,
                planned_end=end,
                responsible_unit=unit,
            )
        except Refused as refused:
            fields = {f"step-{row_number}-{k}": v for k, v in refused.fields.items()}
            raise Refused(refused.status, refused.reason, fields=fields) from None


@bp.route("/projects/new", methods=["POST"])
@district
def create() -> Response | tuple[str, int]:
    form = request.form
    problems: dict[str, str] = {}
    year = _chosen(FiscalYear, form.get("fiscal_year_id"))
    owner = _chosen(OrgUnit, form.get("owner_unit_id"))
    responsible = _chosen(OrgUnit, form.get("responsible_unit_id"))
    if year is None:
        problems["fiscal_year_id"] = _("choose a fiscal year")
    if owner is None:
        problems["owner_unit_id"] = _("choose the owning unit")
    if responsible is None:
        problems["responsible_unit_id"] = _("choose the responsible unit")

    def change() -> Project:
        if problems:
            # every problem of the form at once, not only the choices missing
            _read, more = _read_form(form)
            if not read_code(form.get("code", "")):
                more["code"] = _("is required")
            raise Refused(422, _("some input is missing or wrong"), fields={**more, **problems})
        assert year is not None and owner is not None and responsible is not None
        try:
            project = create_project(
                session(),
                actor(),
                code=form.get("code", ""),
                name=form.get("name", ""),
                fiscal_year=year,
                owner_unit=owner,
                responsible_unit=responsible,
            )
        except Refused as refused:
            if refused.status != 422:
                raise
            # the rest of the form's problems with the project's own, in one answer
            _read, more = _read_form(form)
            raise Refused(422, refused.reason, fields={**more, **refused.fields}) from None
        _apply(project, form)
        return project

    def again(errors: dict[str, str], status: int, **_typed: Any) -> tuple[str, int]:
        return _render(None, _typed_values(form), errors, status)

    def created(project: Project) -> Response:
        flash(_("Project %(code)s is created as a draft.", code=project.code), "info")
        return redirect(url_for("editor.edit", project_id=project.id))

    return run_change(change, done="", back="", again=again, answer=created)


@bp.route("/projects/<int:project_id>/edit", methods=["POST"])
@login_required
def save(project_id: int) -> Response | tuple[str, int]:
    """Save the whole form. A form drawn at another version of the project (`version`: a
    save from another tab or person, a transition, came between) is refused with 409 and
    shown again as typed, with where to see the project as it stands: what was saved
    meanwhile is not written over unseen. A form without it (an older page) is saved."""
    project = _project_for_editor(project_id)
    drawn = drawn_version(request.form)
    changed_meanwhile = False

    def change() -> None:
        nonlocal changed_meanwhile
        try:
            current = hold_unchanged(session(), project, drawn)
        except Refused as refused:
            changed_meanwhile = refused.status == 409
            raise
        _apply(current, request.form)

    def again(errors: dict[str, str], status: int, **_typed: Any) -> tuple[str, int]:
        shown = _project_for_editor(project_id)
        values = _typed_values(request.form)
        # Refused for what was saved meanwhile, the form stands for the project as it is now:
        # sent again, it is sent knowingly. Refused for anything else, it keeps the version
        # it was drawn at, so that a save made meanwhile is still caught.
        if not changed_meanwhile and drawn is not None:
            values["version"] = drawn
        return _render(shown, values, errors, status, changed_meanwhile=changed_meanwhile)

    return run_change(
        change,
        done=_("The project is saved."),
        back=url_for("editor.edit", project_id=project.id),
        again=again,
    )


@bp.route("/projects/<int:project_id>/steps/<int:step_id>/assign", methods=["POST"])
@login_required
def assign(project_id: int, step_id: int) -> Response | tuple[str, int]:
    project = _project_for_editor(project_id)
    step = session().get(PlanStep, step_id)
    unit = _chosen(OrgUnit, request.form.get("unit_id"))
    if step is None or step.project_id != project.id:
        abort(404)
    if unit is None:
        flash(_("Choose a unit."), "error")
        return redirect(url_for("editor.edit", project_id=project.id) + "#reporting")
    back = url_for("editor.edit", project_id=project.id) + "#reporting"

    def again(errors: dict[str, str], **_typed: Any) -> Response:
        for field, problem in errors.items():
            flash(f"{field_label(field)}: {problem}", "error")
        return redirect(back)

    return run_change(
        lambda: assign_result(session(), actor(), step, unit),
        done=_("%(unit)s reports on step %(step)s.", unit=unit.name_th, step=step.position),
        back=back,
        again=again,
    )


@bp.route("/projects/<int:project_id>/reports", methods=["POST"])
@login_required
def report(project_id: int) -> Response | tuple[str, int]:
    """A dated progress report (ผลการดำเนินงาน)."""
    project = _project_for_editor(project_id)
    form = request.form
    problems: dict[str, str] = {}
    percent = _decimal(form.get("percent", ""), "percent", problems, Percent)
    reported_on = _date(form.get("reported_on", ""), "reported_on", problems)

    def change() -> Any:
        if problems:
            raise Refused(422, _("some input is missing or wrong"), fields=problems)
        assert percent is not None and reported_on is not None
        return add_progress_report(
            session(),
            actor(),
            project,
            reported_on=reported_on,
            percent=percent,
            narrative=form.get("narrative", ""),
            problems=form.get("problems", ""),
            obstacles=form.get("obstacles", ""),
        )

    def again(errors: dict[str, str], **_typed: Any) -> tuple[str, int]:
        shown = _project_for_editor(project_id)
        values = _form_values(shown)
        values["report"] = dict(form)
        return _render(shown, values, {f"report-{k}": v for k, v in errors.items()}, 422)

    return run_change(
        change,
        done=_("The progress report is added."),
        back=url_for("editor.edit", project_id=project.id) + "#reports",
        again=again,
    )
