"""Every change to KPIs: create, change, link to projects, report a quarter's result with its
evidence. Each checks permission, validates, mutates, flushes and records an audit row; none
commits."""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import emit, record
from service.core.db import utcnow
from service.core.thai import normalize_thai, read_code
from service.core.translate import gettext as _
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import (
    Kpi,
    KpiEvidenceFile,
    KpiLevel,
    KpiQuarterResult,
    KpiType,
    MeasureKind,
)
from service.kpis.permissions import (
    DISTRICT,
    can_see_kpi,
    may_manage_kpi,
    may_manage_kpis,
    may_report_kpi,
    works_for,
)
from service.org.models import OrgUnit, User
from service.projects.evidence import Upload, check_upload, display_name
from service.projects.models import Project
from service.projects.queries import sees_project
from service.workflow.engine import Refused

#: What `update_kpi` may change.
EDITABLE = (
    "code",
    "name",
    "definition",
    "unit_label",
    "measure_kind",
    "target",
    "kpi_type",
    "level",
    "owner_unit",
)
TEXTS = ("code", "name", "definition", "unit_label")


def _refuse(answer: Any) -> None:
    if not answer:
        raise Refused(403, answer.reason)


def _check(values: dict[str, Any]) -> None:
    problems: dict[str, str] = {}
    for name in ("code", "name", "unit_label"):
        if name in values and not values[name]:
            problems[name] = _("is required")
    if "target" in values and values["target"] is not None and values["target"] < 0:
        problems["target"] = _("must not be negative")
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)


def _code_free(session: Session, code: str, year_id: int, kpi_id: int | None = None) -> None:
    taken = session.scalar(
        select(Kpi.id).where(
            Kpi.code == code, Kpi.fiscal_year_id == year_id, Kpi.id != (kpi_id or 0)
        )
    )
    if taken is not None:
        raise Refused(
            409,
            _("KPI %(code)s exists in this fiscal year", code=code),
            fields={"code": _("is already used")},
        )


def create_kpi(
    session: Session,
    actor: User,
    *,
    code: str,
    name: str,
    fiscal_year: FiscalYear,
    owner_unit: OrgUnit,
    target: Decimal,
    measure_kind: MeasureKind = MeasureKind.PERCENT,
    kpi_type: KpiType = KpiType.ROUTINE,
    level: KpiLevel = KpiLevel.OUTPUT,
    unit_label: str = "ร้อยละ",
    definition: str = "",
) -> Kpi:
    """A KPI reported by hand. Raises Refused(403) for someone who may not manage the owning
    unit's KPIs, 409 for a code used in the year, 422 for missing or wrong values."""
    _refuse(may_manage_kpis(session, actor, owner_unit))
    values: dict[str, Any] = {
        "code": read_code(code),  # ๕๐๒๓-๖๕๒๕ is 5023-6525
        "name": normalize_thai(name),
        "definition": normalize_thai(definition),
        "unit_label": normalize_thai(unit_label),
        "target": target,
    }
    _check(values)
    _code_free(session, values["code"], fiscal_year.id)
    kpi = Kpi(
        fiscal_year=fiscal_year,
        owner_unit=owner_unit,
        measure_kind=MeasureKind(measure_kind),
        kpi_type=KpiType(kpi_type),
        level=KpiLevel(level),
        **values,
    )
    session.add(kpi)
    session.flush()
    record(
        session,
        action="kpi.create",
        object_type="kpi",
        object_id=kpi.id,
        actor=actor,
        changes={
            "code": kpi.code,
            "fiscal_year": fiscal_year.be_year,
            "owner_unit": owner_unit.code,
            "target": str(kpi.target),
        },
    )
    return kpi


def _shown(value: Any) -> str:
    if isinstance(value, OrgUnit):
        return value.code
    return str(value.value) if hasattr(value, "value") else str(value)


def update_kpi(session: Session, actor: User, kpi: Kpi, changes: dict[str, Any]) -> Kpi:
    """Change the KPI's definition; a new owning unit must be one the actor manages too.
    Records old and new values of what changed. Raises Refused(403/409/422)."""
    _refuse(may_manage_kpi(session, actor, kpi))
    values = dict(changes)
    for name in TEXTS:
        if name in values:
            read = read_code if name == "code" else normalize_thai
            values[name] = read(str(values[name]))
    unknown = [name for name in values if name not in EDITABLE]
    if unknown:
        raise Refused(
            422,
            _("%(field)s cannot be changed here", field=unknown[0]),
            fields={unknown[0]: _("unknown field")},
        )
    _check(values)
    if "owner_unit" in values and values["owner_unit"] is not kpi.owner_unit:
        _refuse(may_manage_kpis(session, actor, values["owner_unit"]))
    if "code" in values and values["code"] != kpi.code:
        _code_free(session, values["code"], kpi.fiscal_year_id, kpi.id)
    enums = {"measure_kind": MeasureKind, "kpi_type": KpiType, "level": KpiLevel}
    recorded: dict[str, list[str]] = {}
    for name, value in values.items():
        if name in enums:
            value = enums[name](value)
        old = getattr(kpi, name)
        if old != value:
            setattr(kpi, name, value)
            recorded[name] = [_shown(old), _shown(value)]
    if recorded:
        session.flush()
        record(
            session,
            action="kpi.update",
            object_type="kpi",
            object_id=kpi.id,
            actor=actor,
            changes=recorded,
        )
    return kpi


def _may_change_links(session: Session, actor: User, kpi: Kpi, project: Project) -> None:
    _refuse(may_manage_kpi(session, actor, kpi))
    if not sees_project(session, actor, project):
        raise Refused(
            422,
            _("project %(id)s does not exist", id=project.id),
            fields={"project_id": _("no such project")},
        )


def _linkable(session: Session, actor: User, kpi: Kpi, project: Project) -> None:
    _may_change_links(session, actor, kpi, project)
    if project.fiscal_year_id != kpi.fiscal_year_id:
        raise Refused(
            422,
            _("the project and the KPI are of different fiscal years"),
            fields={"project_id": _("is of another fiscal year")},
        )


def link_project(session: Session, actor: User, kpi: Kpi, project: Project) -> None:
    """Link the KPI to a project the actor sees, of the same fiscal year (idempotent)."""
    _linkable(session, actor, kpi, project)
    if project in kpi.projects:
        return
    kpi.projects.append(project)
    session.flush()
    record(
        session,
        action="kpi.link",
        object_type="kpi",
        object_id=kpi.id,
        actor=actor,
        changes={"project": project.code},
    )


def unlink_project(session: Session, actor: User, kpi: Kpi, project: Project) -> None:
    """Take the project off the KPI's list (idempotent). A link of another fiscal year (made
    before links were held to one year) can be undone too: undoing is how it is mended."""
    _may_change_links(session, actor, kpi, project)
    if project not in kpi.projects:
        return
    kpi.projects.remove(project)
    session.flush()
    record(
        session,
        action="kpi.unlink",
        object_type="kpi",
        object_id=kpi.id,
        actor=actor,
        changes={"project": project.code},
    )


def _published(session: Session, kpi: Kpi, quarter: int) -> bool:
    state = session.scalar(
        select(Evaluation.state).where(
            Evaluation.kpi_id == kpi.id,
            Evaluation.fiscal_year_id == kpi.fiscal_year_id,
            Evaluation.quarter == quarter,
        )
    )
    return state is EvaluationState.PUBLISHED


def result_problems(
    kpi: Kpi,
    *,
    value: Decimal | None,
    numerator: Decimal | None,
    denominator: Decimal | None,
) -> dict[str, str]:
    """What is wrong, per field, with a quarter's result of `kpi`: no value, a ratio without
    one of its halves or over nothing (a denominator must count something), or a negative
    percentage. Only a percent KPI is held to a sign: a level, a count or a free-text unit may
    be measured in ways this cannot judge. The pages call this on the fields that read, to name
    every problem at once."""
    problems: dict[str, str] = {}
    if value is None:
        problems["value"] = _("is required")
    elif value < 0 and kpi.measure_kind is MeasureKind.PERCENT:
        problems["value"] = _("a percentage cannot be negative")
    if numerator is not None and numerator < 0 and kpi.measure_kind is MeasureKind.PERCENT:
        problems["numerator"] = _("must not be negative")
    if denominator is not None and denominator <= 0:
        problems["denominator"] = _("must be more than 0")
    if (numerator is None) != (denominator is None):
        problems["denominator" if denominator is None else "numerator"] = _(
            "give both the numerator and the denominator, or neither"
        )
    return problems


def report_result(
    session: Session,
    actor: User,
    kpi: Kpi,
    quarter: int,
    *,
    value: Decimal | None,
    narrative: str = "",
    numerator: Decimal | None = None,
    denominator: Decimal | None = None,
) -> KpiQuarterResult:
    """Set the quarter's result of a KPI reported by hand (cumulative through the year, as
    the legacy page reads it). Raises Refused(403) for someone who may not report it or for a
    computed KPI, 409 once the quarter's evaluation is published (frozen), 422 for a quarter
    outside 1..4 or any of `result_problems`."""
    _refuse(may_report_kpi(session, actor, kpi))
    problems = result_problems(kpi, value=value, numerator=numerator, denominator=denominator)
    if quarter not in (1, 2, 3, 4):
        problems["quarter"] = _("must be 1 to 4")
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    if _published(session, kpi, quarter):
        raise Refused(
            409,
            _("quarter %(q)s is evaluated and published: its result is frozen", q=quarter),
            state=EvaluationState.PUBLISHED.value,
        )
    result = session.scalar(
        select(KpiQuarterResult).where(
            KpiQuarterResult.kpi_id == kpi.id, KpiQuarterResult.quarter == quarter
        )
    )
    if result is None:
        result = KpiQuarterResult(kpi=kpi, quarter=quarter)
        session.add(result)
    new = {
        "value": value,
        "narrative": normalize_thai(narrative),
        "numerator": numerator,
        "denominator": denominator,
    }
    recorded = {
        name: [str(getattr(result, name) or ""), str(v if v is not None else "")]
        for name, v in new.items()
        if getattr(result, name) != v
    }
    for name, v in new.items():
        setattr(result, name, v)
    session.flush()
    if recorded:
        record(
            session,
            action="kpi.result",
            object_type="kpi",
            object_id=kpi.id,
            actor=actor,
            changes={"quarter": quarter, **recorded},
        )
        # The evaluators who score the quarter, and (when a school reported) the owning
        # unit's officers, who answer for the KPI.
        emit(
            session,
            kind="kpi.result",
            object_type="kpi",
            object_id=kpi.id,
            actor=actor,
            payload={
                "quarter": quarter,
                "by_school": not works_for(session, actor, DISTRICT, kpi.owner_unit),
                "unit_id": kpi.owner_unit_id,
            },
        )
    return result


def store_evidence(
    session: Session,
    actor: User,
    result: KpiQuarterResult,
    upload: Upload,
    folder: Path,
    max_bytes: int,
) -> tuple[KpiEvidenceFile, Path]:
    """Check `upload` as a step result's evidence is checked, write it under a random name in
    `folder` and add its row (flushed, audited). Returns the row and the path written, so a
    caller whose transaction fails can remove it. Raises Refused(403) for someone who may not
    report the KPI, 409 for a published quarter, 422 for a file refused."""
    kpi = result.kpi
    _refuse(may_report_kpi(session, actor, kpi))
    if _published(session, kpi, result.quarter):
        raise Refused(
            409,
            _("quarter %(q)s is evaluated and published: its result is frozen", q=result.quarter),
            state=EvaluationState.PUBLISHED.value,
        )
    content_type = check_upload(upload, max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(24)
    path = folder / stored_name
    with path.open("xb") as target:
        target.write(upload.content)
    evidence = KpiEvidenceFile(
        result=result,
        original_name=display_name(upload.filename),
        stored_name=stored_name,
        content_type=content_type,
        size=len(upload.content),
        uploaded_by_id=actor.id,
    )
    session.add(evidence)
    session.flush()
    record(
        session,
        action="kpi.evidence_upload",
        object_type="kpi",
        object_id=kpi.id,
        actor=actor,
        changes={
            "quarter": result.quarter,
            "evidence_id": evidence.id,
            "name": evidence.original_name,
            "size": evidence.size,
        },
    )
    return evidence, path


def withdraw_evidence(session: Session, actor: User, evidence: KpiEvidenceFile) -> None:
    """Mark the file withdrawn (the row and the file stay). Raises Refused: 404 when the actor
    may not see the KPI, 403 when they may not report it, 409 when already withdrawn or the
    quarter is published."""
    kpi = evidence.result.kpi
    if not can_see_kpi(session, actor, kpi):
        raise Refused(404, _("No such evidence file"))
    _refuse(may_report_kpi(session, actor, kpi))
    if evidence.withdrawn_at is not None:
        raise Refused(
            409,
            _("“%(name)s” is already withdrawn", name=evidence.original_name),
            state="withdrawn",
        )
    if _published(session, kpi, evidence.result.quarter):
        raise Refused(
            409,
            _(
                "quarter %(q)s is evaluated and published: its result is frozen",
                q=evidence.result.quarter,
            ),
            state=EvaluationState.PUBLISHED.value,
        )
    evidence.withdrawn_at = utcnow()
    evidence.withdrawn_by_id = actor.id
    session.flush()
    record(
        session,
        action="kpi.evidence_withdraw",
        object_type="kpi",
        object_id=kpi.id,
        actor=actor,
        changes={"evidence_id": evidence.id, "name": evidence.original_name},
    )


__all__ = [
    "create_kpi",
    "link_project",
    "report_result",
    "store_evidence",
    "unlink_project",
    "update_kpi",
    "withdraw_evidence",
]
