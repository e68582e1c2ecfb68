"""The KPI pages: the list of KPIs the reader may see (exported as CSV or XLSX), a KPI with its
quarters, linked projects and evidence, and the forms that create and change KPIs, link them
to projects and report a quarter's result of a KPI that is not computed. Evaluators score the
quarters in the evaluation queue (service.evaluations), linked from here."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

from service.api.scoping import may_name_unit
from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import BeYear, Invalid, value_of
from service.core.fiscal import local_today, quarter_of
from service.core.labels import label
from service.core.paging import page_number, paged
from service.core.permissions import holds_anywhere
from service.core.presentation import subscore_labels
from service.core.sql import matches_text
from service.core.thai import read_code
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.dashboard.queries import default_year
from service.evaluations.models import Evaluation
from service.evaluations.permissions import can_see_score
from service.fiscal.models import FiscalYear
from service.kpis import operations
from service.kpis.models import (
    Kpi,
    KpiEvidenceFile,
    KpiLevel,
    KpiQuarterResult,
    KpiType,
    MeasureKind,
)
from service.kpis.permissions import (
    can_see_kpi,
    may_manage_kpi,
    may_manage_kpis,
    may_report_kpi,
    visible_kpis,
)
from service.kpis.schemas import FORM_FIELDS, RESULT_FIELDS, read_form
from service.org.models import OrgUnit, Role, UnitKind
from service.org.scope import active_roles, role_names
from service.projects.evidence import Upload
from service.projects.models import Project
from service.projects.queries import sees_project
from service.workflow.engine import Refused
from service.workflow.screens import actor, gate, run_change, session

bp = Blueprint("kpis", __name__)

#: Who works with KPIs. A school sees (and reports) those its own unit owns: `visible_kpis`
#: holds a school to its unit.
KPI_ROLES = frozenset({Role.OFFICER, Role.APPROVER, Role.EVALUATOR, Role.ADMIN, Role.SCHOOL})


def _visible(kpi_id: int) -> Kpi:
    found = session().get(Kpi, kpi_id)
    if found is None or not can_see_kpi(session(), actor(), found):
        abort(404)
    return found


def _year() -> FiscalYear | None:
    """The year asked for (404 when there is none such), else the one the dashboard opens on."""
    if not request.args.get("year"):
        return default_year(session(), actor(), local_today())
    try:
        be_year = value_of(BeYear(), request.args, "year")
    except Invalid:
        abort(404)
    year = session().scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if year is None:
        abort(404)
    return year


def _list_query(year: FiscalYear, q: str) -> Any:
    statement = (
        select(Kpi)
        .where(Kpi.fiscal_year_id == year.id, visible_kpis(session(), actor()))
        .order_by(Kpi.code, Kpi.id)
    )
    if q:
        statement = statement.where(matches_text(q, Kpi.code, Kpi.name))
    return statement


def _latest(kpi: Kpi) -> KpiQuarterResult | None:
    """The latest quarter that has a result (results are cumulative through the year)."""
    return next((r for r in sorted(kpi.results, key=lambda r: -r.quarter) if r.measured), None)


def _quarter_value(quarter: int, kpi: Kpi) -> Decimal | None:
    return next((r.value for r in kpi.results if r.quarter == quarter), None)


def export_columns() -> list[Column]:
    from service.core.web import current_language

    lang = current_language()
    return [
        Column(_l("KPI code"), lambda k: k.code, width=14),
        Column(_l("KPI"), lambda k: k.name, width=60),
        Column(_l("Owning unit"), lambda k: k.owner_unit.name(lang), width=28),
        Column(_l("KPI type"), lambda k: label(k.kpi_type), width=22),
        Column(_l("KPI level"), lambda k: label(k.level), width=22),
        Column(_l("Unit of measure"), lambda k: k.unit_label),
        Column(_l("Target"), lambda k: k.target, "percent"),
        *(
            Column(_l("Quarter %(q)s", q=q), partial(_quarter_value, q), "percent")
            for q in (1, 2, 3, 4)
        ),
        Column(_l("Linked projects"), lambda k: " ".join(p.code for p in k.projects), width=30),
    ]


def _export_rows(db_session: Session, ids: Any) -> list[Kpi]:
    found = {
        k.id: k
        for k in db_session.scalars(
            select(Kpi)
            .where(Kpi.id.in_(ids))
            .options(
                selectinload(Kpi.results), selectinload(Kpi.projects), selectinload(Kpi.owner_unit)
            )
        )
    }
    return [found[i] for i in ids if i in found]


def _manageable_units(db_session: Session) -> list[OrgUnit]:
    """Units whose KPIs the user may manage: their role units (as officer or approver), the
    district above a division, and the units below, above school level."""
    units: dict[int, OrgUnit] = {}
    for assignment in active_roles(db_session, actor()):
        if assignment.role not in (Role.OFFICER, Role.APPROVER):
            continue
        line = list(
            db_session.scalars(
                select(OrgUnit).where(OrgUnit.id.in_(assignment.unit.ancestor_ids or []))
            )
        )
        below = db_session.scalars(
            select(OrgUnit).where(
                OrgUnit.path.startswith(assignment.unit.path),
                OrgUnit.kind.not_in((UnitKind.SCHOOL, UnitKind.SCHOOL_NETWORK)),
                OrgUnit.withdrawn_at.is_(None),
            )
        )
        for unit in [*line, *below]:
            if unit.id not in units and may_manage_kpis(db_session, actor(), unit):
                units[unit.id] = unit
    return sorted(units.values(), key=lambda u: u.path)


@bp.route("/kpis")
@login_required
def index() -> Any:
    """The KPIs of a fiscal year the reader may see, a page at a time or as a download."""
    if not role_names(session(), actor()) & KPI_ROLES:
        abort(403)
    year = _year()
    q = request.args.get("q", "").replace("\x00", "")[:200].strip()
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS or year is None:
            abort(404)
        ids = list(session().scalars(_list_query(year, q).with_only_columns(Kpi.id)))
        return download(
            fmt,
            f"kpis-{year.be_year}",
            export_columns(),
            rows_in_chunks(ids, _export_rows),
            _("KPIs"),
        )
    listing = (
        paged(session(), _list_query(year, q), page_number(request.args.get("page")))
        if year
        else None
    )
    query: dict[str, Any] = {"year": year.be_year if year else "", "q": q}
    return render_template(
        "kpis/list.html",
        year=year,
        years=list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc()))),
        q=q,
        listing=listing,
        latest=_latest,
        may_create=bool(_manageable_units(session())),
        page_url=lambda number: url_for("kpis.index", **query, page=number),
        export_url=lambda fmt: url_for("kpis.index", **query, format=fmt),
    )


def _form_page(
    kpi: Kpi | None, form: dict[str, Any], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    return (
        render_template(
            "kpis/form.html",
            kpi=kpi,
            form=form,
            errors=errors,
            units=_manageable_units(session()),
            years=list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc()))),
            kinds=list(MeasureKind),
            types=list(KpiType),
            levels=list(KpiLevel),
        ),
        status,
    )


def _stored_form(kpi: Kpi | None) -> dict[str, Any]:
    if kpi is None:
        # The year the dashboard opens on: the current one if it has projects, else the latest.
        year = default_year(session(), actor(), local_today())
        return {
            "unit_label": "ร้อยละ",
            "measure_kind": MeasureKind.PERCENT.value,
            "kpi_type": KpiType.ROUTINE.value,
            "level": KpiLevel.OUTPUT.value,
            "fiscal_year_id": str(year.id) if year else "",
        }
    return {
        "code": kpi.code,
        "name": kpi.name,
        "definition": kpi.definition,
        "unit_label": kpi.unit_label,
        "measure_kind": kpi.measure_kind.value,
        "target": format(kpi.target.normalize(), "f"),
        "kpi_type": kpi.kpi_type.value,
        "level": kpi.level.value,
        "owner_unit_id": str(kpi.owner_unit_id),
        "fiscal_year_id": str(kpi.fiscal_year_id),
    }


def _read_kpi_form(kpi: Kpi | None) -> tuple[dict[str, Any], dict[str, str]]:
    wanted = dict(FORM_FIELDS)
    if kpi is not None:
        wanted.pop("fiscal_year_id")  # a KPI stays in its year
    values, problems = read_form(wanted, request.form)
    if "owner_unit_id" in values:
        unit = session().get(OrgUnit, values.pop("owner_unit_id"))
        # Refused as missing when the reader may not name it (a refusal would name it).
        if (
            unit is None
            or unit.withdrawn_at is not None
            or not may_name_unit(session(), actor(), unit)
        ):
            problems["owner_unit_id"] = _("no such unit")
        else:
            values["owner_unit"] = unit
    if "fiscal_year_id" in values:
        year = session().get(FiscalYear, values.pop("fiscal_year_id"))
        if year is None:
            problems["fiscal_year_id"] = _("no such fiscal year")
        else:
            values["fiscal_year"] = year
    return values, problems


@bp.route("/kpis/new", methods=["GET", "POST"])
@gate(lambda db_session, _user: bool(_manageable_units(db_session)))
def new() -> Any:
    if request.method == "GET":
        return _form_page(None, _stored_form(None), {})
    values, problems = _read_kpi_form(None)
    form = request.form.to_dict()
    if problems:
        return _form_page(None, form, problems, 422)

    def created(kpi: Kpi) -> Response:
        flash(_("KPI %(code)s is created.", code=kpi.code), "info")
        return redirect(url_for("kpis.page", kpi_id=kpi.id))

    return run_change(
        lambda: operations.create_kpi(session(), actor(), **values),
        done="",
        back="",
        again=lambda errors, status, **_: _form_page(None, form, _texts(errors), status),
        answer=created,
        error_pages=(),
        name_fields=True,
    )


@bp.route("/kpis/<int:kpi_id>/edit", methods=["GET", "POST"])
@login_required
def edit(kpi_id: int) -> Any:
    kpi = _visible(kpi_id)
    if not may_manage_kpi(session(), actor(), kpi):
        abort(403)
    if request.method == "GET":
        return _form_page(kpi, _stored_form(kpi), {})
    values, problems = _read_kpi_form(kpi)
    form = request.form.to_dict()
    if problems:
        return _form_page(kpi, form, problems, 422)

    def saved(_result: Any) -> Response:
        flash(_("KPI %(code)s is saved.", code=kpi.code), "info")
        return redirect(url_for("kpis.page", kpi_id=kpi.id))

    return run_change(
        lambda: operations.update_kpi(session(), actor(), kpi, values),
        done="",
        back="",
        again=lambda errors, status, **_: _form_page(
            _visible(kpi_id), form, _texts(errors), status
        ),
        answer=saved,
        error_pages=(),
        name_fields=True,
    )


def _texts(errors: dict[str, Any]) -> dict[str, str]:
    """A refusal's field problems as the form shows them."""
    return {k: str(v) for k, v in errors.items()}


def _kpi_page(
    kpi: Kpi,
    forms: dict[int, dict[str, Any]] | None = None,
    errors: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    by_quarter = {r.quarter: r for r in kpi.results}
    evaluations = {
        e.quarter: e
        for e in session().scalars(
            select(Evaluation).where(
                Evaluation.kpi_id == kpi.id, Evaluation.fiscal_year_id == kpi.fiscal_year_id
            )
        )
    }
    rows: list[dict[str, Any]] = []
    for q in (1, 2, 3, 4):
        result = by_quarter.get(q)
        evaluation = evaluations.get(q)
        rows.append(
            {
                "quarter": q,
                "result": result,
                "evaluation": evaluation,
                "score_shown": evaluation is not None
                and can_see_score(session(), actor(), evaluation),
                "frozen": evaluation is not None and evaluation.state.value == "published",
                "form": (forms or {}).get(q)
                or {
                    "value": format(result.value.normalize(), "f")
                    if result and result.value is not None
                    else "",
                    "narrative": result.narrative if result else "",
                    "numerator": format(result.numerator.normalize(), "f")
                    if result and result.numerator is not None
                    else "",
                    "denominator": format(result.denominator.normalize(), "f")
                    if result and result.denominator is not None
                    else "",
                },
                "errors": (errors or {}).get(q, {}),
            }
        )
    user = actor()
    return (
        render_template(
            "kpis/page.html",
            kpi=kpi,
            # Only the linked projects the reader may open (a school sees its own).
            projects=[p for p in kpi.projects if sees_project(session(), user, p)],
            rows=rows,
            achieved=_latest(kpi),
            labels=subscore_labels(),
            manage=may_manage_kpi(session(), user, kpi),
            report=may_report_kpi(session(), user, kpi),
            evaluator=holds_anywhere(session(), user, Role.EVALUATOR),
            current_quarter=quarter_of(local_today()),
            max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
        ),
        status,
    )


@bp.route("/kpis/<int:kpi_id>")
@login_required
def page(kpi_id: int) -> Any:
    """The KPI with its quarters (result, the evaluation fraction, the score), linked projects
    and, for those who may, the forms that change them."""
    return _kpi_page(_visible(kpi_id))


@bp.route("/kpis/<int:kpi_id>/projects", methods=["POST"])
@login_required
def link(kpi_id: int) -> Response | tuple[Any, int]:
    """Link (or, with `unlink`, unlink) the project whose code is given."""
    kpi = _visible(kpi_id)
    # A code typed with Thai or full-width digits is the same code.
    code = read_code(request.form.get("project_code", "").replace("\x00", ""))[:32]
    if request.form.get("unlink"):
        # The project linked, whatever its year: a link across years is undone here too.
        project = next((p for p in kpi.projects if p.code == code), None)
    else:
        project = session().scalar(
            select(Project).where(
                Project.code == code, Project.fiscal_year_id == kpi.fiscal_year_id
            )
        )

    def change() -> None:
        if project is None:
            raise Refused(
                422,
                _("no project %(code)s in this fiscal year", code=code or "–"),
                fields={"project_id": _("no such project")},
            )
        if request.form.get("unlink"):
            operations.unlink_project(session(), actor(), kpi, project)
        else:
            operations.link_project(session(), actor(), kpi, project)

    back = url_for("kpis.page", kpi_id=kpi_id) + "#h-projects"
    return run_change(
        change,
        done=_("%(code)s is unlinked.", code=code)
        if request.form.get("unlink")
        else _("%(code)s is linked.", code=code),
        back=back,
        again=lambda **_refused: redirect(back),
        error_pages=(403,),
        name_fields=True,
    )


@bp.route("/kpis/<int:kpi_id>/results", methods=["POST"])
@login_required
def report(kpi_id: int) -> Any:
    """Report a quarter's result with its narrative and evidence files, all or nothing."""
    kpi = _visible(kpi_id)
    if not may_report_kpi(session(), actor(), kpi):
        abort(403)
    values, problems = read_form(RESULT_FIELDS, request.form)
    quarter = values.get("quarter")
    if quarter is None:
        abort(400)
    form = {k: request.form.get(k, "") for k in ("value", "narrative", "numerator", "denominator")}
    if problems:
        # Every problem at once: the rules between fields too, on the fields that did read.
        measures = {k: values.get(k) for k in ("value", "numerator", "denominator")}
        problems = {**operations.result_problems(kpi, **measures), **problems}
        return _kpi_page(kpi, {quarter: form}, {quarter: problems}, 422)
    uploads = [
        Upload(f.filename or "", f.read()) for f in request.files.getlist("files") if f.filename
    ]
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    written: list[Path] = []

    def change() -> None:
        result = operations.report_result(
            session(),
            actor(),
            kpi,
            quarter,
            value=values["value"],
            narrative=values.get("narrative") or "",
            numerator=values.get("numerator"),
            denominator=values.get("denominator"),
        )
        for upload in uploads:
            _evidence, path = operations.store_evidence(
                session(), actor(), result, upload, folder, current_app.config["MAX_CONTENT_LENGTH"]
            )
            written.append(path)

    def undo() -> None:
        for path in written:
            path.unlink(missing_ok=True)

    return run_change(
        change,
        done=_("The result of quarter %(q)s is saved.", q=quarter),
        back=url_for("kpis.page", kpi_id=kpi_id) + f"#q{quarter}",
        again=lambda errors, status, **_: _kpi_page(
            _visible(kpi_id), {quarter: form}, {quarter: _texts(errors)}, status
        ),
        undo=undo,
        error_pages=(),
        name_fields=True,
    )


def _visible_evidence(evidence_id: int) -> KpiEvidenceFile:
    row = session().get(KpiEvidenceFile, evidence_id)
    if row is None or not can_see_kpi(session(), actor(), row.result.kpi):
        abort(404)
    return row


@bp.route("/kpis/evidence/<int:evidence_id>")
@login_required
def evidence(evidence_id: int) -> Response:
    """The file as an attachment, to those who see the KPI; 404 for anyone else."""
    row = _visible_evidence(evidence_id)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / row.stored_name
    if row.withdrawn_at is not None or not path.is_file():
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


@bp.route("/kpis/evidence/<int:evidence_id>/withdraw", methods=["POST"])
@login_required
def withdraw(evidence_id: int) -> Response | tuple[Any, int]:
    row = _visible_evidence(evidence_id)
    kpi_id = row.result.kpi_id
    back = url_for("kpis.page", kpi_id=kpi_id)
    return run_change(
        lambda: operations.withdraw_evidence(session(), actor(), row),
        done=_("%(name)s is withdrawn.", name=row.original_name),
        back=back,
        again=lambda **_refused: redirect(back),
        name_fields=True,
    )
