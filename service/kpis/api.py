"""/api/v1/kpis: KPIs, their linked projects and their quarterly results with evidence.

The same operations and permission predicates as the pages (service.kpis.operations,
service.kpis.permissions): a KPI the caller may not see answers 404 exactly as a missing one;
the quarters are scored through /api/v1/evaluations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, request
from marshmallow import fields
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from service.api.auth import actor
from service.api.blueprint import Blueprint, commit_or_remove, commits
from service.api.paging import paginate
from service.api.schemas import Input, page_of
from service.api.scoping import get_project, get_unit, in_subtree
from service.api.transitions import ID
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.kpis import operations
from service.kpis.models import Kpi, KpiEvidenceFile, KpiQuarterResult
from service.kpis.permissions import can_see_kpi, visible_kpis
from service.kpis.schemas import (
    KpiCreate,
    KpiDetailOut,
    KpiEvidenceOut,
    KpiFilter,
    KpiLinkInput,
    KpiResultInput,
    KpiUpdate,
)
from service.org.models import User
from service.projects.api import fiscal_year
from service.projects.evidence import Upload
from service.workflow.engine import Refused, missing

blp = Blueprint("api_kpis", __name__, url_prefix="/api/v1", description="KPIs")

QUARTER = "int(min=1, max=4)"


def get_kpi(session: Session, user: User, ident: int) -> Kpi:
    kpi = session.get(Kpi, ident)
    if kpi is None or not can_see_kpi(session, user, kpi):
        raise missing("kpi", ident)
    return kpi


def _owner(session: Session, user: User, data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    if "owner_unit_id" in values:
        # A unit the caller may not name is refused as one that does not exist: the refusal
        # of someone else's unit would name it.
        values["owner_unit"] = get_unit(
            session, values.pop("owner_unit_id"), "owner_unit_id", user=user
        )
    return values


@blp.route("/kpis")
@blp.arguments(KpiFilter, location="query")
@blp.response(200, page_of(KpiDetailOut, "KpiPage"))
@blp.doc(summary="KPIs the caller may see, filtered, a page at a time")
def list_kpis(args: dict[str, Any]) -> Any:
    session = db.session()
    stmt = (
        select(Kpi)
        .where(visible_kpis(session, actor()))
        .options(
            joinedload(Kpi.fiscal_year),
            selectinload(Kpi.results).selectinload(KpiQuarterResult.evidence),
            selectinload(Kpi.projects),
        )
        .order_by(Kpi.code, Kpi.id)
    )
    if "fiscal_year" in args:
        stmt = stmt.where(
            Kpi.fiscal_year_id.in_(
                select(FiscalYear.id).where(FiscalYear.be_year == args["fiscal_year"])
            )
        )
    if "unit" in args:
        stmt = stmt.where(in_subtree(session, args["unit"], Kpi.owner_unit_id))
    if "kpi_type" in args:
        stmt = stmt.where(Kpi.kpi_type == args["kpi_type"])
    if "code" in args:
        stmt = stmt.where(Kpi.code == args["code"])
    return paginate(session, stmt, args)


@blp.route("/kpis", methods=["POST"])
@blp.arguments(KpiCreate)
@blp.response(201, KpiDetailOut)
@blp.doc(summary="Create a KPI reported by hand (officers and approvers of the owning unit)")
@commits
def create(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    values = _owner(session, user, data)
    values["fiscal_year"] = fiscal_year(session, values["fiscal_year"])
    return operations.create_kpi(session, user, **values)


@blp.route(f"/kpis/<{ID}:ident>")
@blp.response(200, KpiDetailOut)
@blp.doc(summary="One KPI with its linked projects and quarterly results")
def get_one(ident: int) -> Any:
    return get_kpi(db.session(), actor(), ident)


@blp.route(f"/kpis/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(KpiUpdate)
@blp.response(200, KpiDetailOut)
@blp.doc(summary="Change a KPI's definition, target, type, level or owning unit")
@commits
def update(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    kpi = get_kpi(session, user, ident)
    return operations.update_kpi(session, user, kpi, _owner(session, user, data))


@blp.route(f"/kpis/<{ID}:ident>/projects", methods=["POST"])
@blp.arguments(KpiLinkInput)
@blp.response(200, KpiDetailOut)
@blp.doc(summary="Link a project of the KPI's fiscal year (idempotent)")
@commits
def link(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    kpi = get_kpi(session, user, ident)
    project = _project(session, user, data["project_id"])
    operations.link_project(session, user, kpi, project)
    return kpi


@blp.route(f"/kpis/<{ID}:ident>/projects/<{ID}:project_id>", methods=["DELETE"])
@blp.response(200, KpiDetailOut)
@blp.doc(summary="Unlink a project (idempotent)")
@commits
def unlink(ident: int, project_id: int) -> Any:
    session = db.session()
    user = actor()
    kpi = get_kpi(session, user, ident)
    operations.unlink_project(session, user, kpi, _project(session, user, project_id))
    return kpi


def _project(session: Session, user: User, project_id: int) -> Any:
    try:
        return get_project(session, user, project_id)
    except Refused:
        raise Refused(
            422,
            str(missing("project", project_id).reason),
            fields={"project_id": str(missing("project", project_id).reason)},
        ) from None


@blp.route(f"/kpis/<{ID}:ident>/results/<{QUARTER}:quarter>", methods=["PUT"])
@blp.arguments(KpiResultInput)
@blp.response(200, KpiDetailOut)
@blp.doc(summary="Report the quarter's result (cumulative through the year) of a KPI not computed")
@commits
def report(data: dict[str, Any], ident: int, quarter: int) -> Any:
    session = db.session()
    user = actor()
    kpi = get_kpi(session, user, ident)
    operations.report_result(session, user, kpi, quarter, **data)
    return kpi


class EvidenceUpload(Input):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


@blp.route(f"/kpis/<{ID}:ident>/results/<{QUARTER}:quarter>/evidence", methods=["POST"])
@blp.arguments(EvidenceUpload, location="files")
@blp.response(201, KpiEvidenceOut)
@blp.doc(summary="Attach an evidence file (multipart, field `file`) to a reported quarter")
def attach(_files: dict[str, Any], ident: int, quarter: int) -> Any:
    session = db.session()
    user = actor()
    kpi = get_kpi(session, user, ident)
    result = next((r for r in kpi.results if r.quarter == quarter), None)
    if result is None:
        raise Refused(409, str(missing("kpi_result", quarter).reason), state="not_reported")
    sent = request.files["file"]
    evidence, path = operations.store_evidence(
        session,
        user,
        result,
        Upload(sent.filename or "", sent.read()),
        Path(current_app.config["UPLOAD_FOLDER"]),
        current_app.config["MAX_CONTENT_LENGTH"],
    )
    commit_or_remove([path])
    return evidence


@blp.route(f"/kpis/evidence/<{ID}:evidence_id>/withdraw", methods=["POST"])
@blp.response(200, KpiEvidenceOut)
@blp.doc(summary="Withdraw an evidence file (it stays in the history, no longer offered)")
@commits
def withdraw(evidence_id: int) -> Any:
    session = db.session()
    user = actor()
    evidence = session.get(KpiEvidenceFile, evidence_id)
    if evidence is None or not can_see_kpi(session, user, evidence.result.kpi):
        raise missing("kpi_evidence", evidence_id)
    operations.withdraw_evidence(session, user, evidence)
    return evidence
