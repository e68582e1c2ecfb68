"""/api/v1/overview: the figures of the overview pages (a unit and its children, the strategy
tree) from the same functions (service.rollups.views `unit_overview`, `strategy_overview`)
and under the same rules: the dashboard's roles read them (403 for others), and a unit
outside the caller's scope answers 404 exactly as a missing one."""

from __future__ import annotations

from typing import Any

from marshmallow import fields
from sqlalchemy import select

from service.api.auth import actor
from service.api.blueprint import Blueprint
from service.api.schemas import Input, Output
from service.core.fields import DecimalString, Ref
from service.core.fiscal import local_today
from service.core.thai import read_code
from service.core.translate import gettext as _
from service.dashboard import queries as dashboard_queries
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User
from service.org.scope import in_scope
from service.projects.api import fiscal_year
from service.rollups.queries import Figures
from service.rollups.views import Source, sees_overview, strategy_overview, unit_overview
from service.workflow.engine import Refused, missing

blp = Blueprint("api_overview", __name__, url_prefix="/api/v1", description="Overview figures")


class OverviewArgs(Input):
    fiscal_year = Ref(
        metadata={"description": "Buddhist Era year, e.g. 2566; the dashboard's year if left out"}
    )


class FiguresOut(Output):
    projects = fields.Integer(metadata={"description": "projects counted"})
    behind = fields.Integer(metadata={"description": "projects behind their plan"})
    actual = DecimalString(places=2, metadata={"description": "mean progress, percent"})
    planned = DecimalString(places=2, metadata={"description": "mean planned progress, percent"})
    approved = DecimalString(places=2, metadata={"description": "approved budget, baht"})
    allocated = DecimalString(places=2, metadata={"description": "allocated, baht"})
    granted = DecimalString(
        places=2,
        allow_none=True,
        metadata={"description": "installments granted, baht (null in a quarter's rollup)"},
    )
    paid = DecimalString(places=2, metadata={"description": "paid, baht"})


class SourceOut(Output):
    quarter = fields.Integer(
        allow_none=True,
        metadata={"description": "the quarter whose rollup gave the figures; null: live"},
    )
    computed_at = fields.DateTime(allow_none=True)


class UnitFiguresOut(Output):
    id = fields.Integer()
    code = fields.String()
    name_th = fields.String()
    name_en = fields.String()
    figures = fields.Nested(FiguresOut)


class UnitOverviewOut(Output):
    fiscal_year = fields.Integer(metadata={"description": "Buddhist Era year"})
    source = fields.Nested(SourceOut)
    unit = fields.Nested(UnitFiguresOut)
    children = fields.List(
        fields.Nested(UnitFiguresOut), metadata={"description": "the units below with projects"}
    )


class NodeFiguresOut(Output):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    figures = fields.Nested(FiguresOut)


class StrategyOverviewOut(Output):
    fiscal_year = fields.Integer(metadata={"description": "Buddhist Era year"})
    source = fields.Nested(SourceOut)
    nodes = fields.List(
        fields.Nested(NodeFiguresOut),
        metadata={"description": "the nodes with projects, depth first in the order of codes"},
    )


def _reader() -> User:
    user = actor()
    if not sees_overview(user):
        raise Refused(403, _("only officers, approvers, evaluators and admins read the overview"))
    return user


def _year(user: User, args: dict[str, Any]) -> FiscalYear:
    session = db.session()
    if "fiscal_year" in args:
        return fiscal_year(session, args["fiscal_year"])
    year = dashboard_queries.default_year(session, user, local_today())
    if year is None:
        raise missing("fiscal_year", "")
    return year


def _figures(f: Figures) -> dict[str, Any]:
    return {
        "projects": f.projects,
        "behind": f.behind,
        "actual": f.actual,
        "planned": f.planned,
        "approved": f.approved,
        "allocated": f.allocated,
        "granted": f.granted,
        "paid": f.paid,
    }


def _unit(unit: OrgUnit, f: Figures) -> dict[str, Any]:
    return {
        "id": unit.id,
        "code": unit.code,
        "name_th": unit.name_th,
        "name_en": unit.name_en,
        "figures": _figures(f),
    }


def _source(source: Source) -> dict[str, Any]:
    return {"quarter": source.quarter, "computed_at": source.computed_at}


@blp.route("/overview/units/<code>")
@blp.arguments(OverviewArgs, location="query")
@blp.response(200, UnitOverviewOut)
@blp.doc(
    summary="A unit's overview figures and its children's, over the projects the caller sees",
    description="The figures of /overview/units/{code}: progress against plan, the budget "
    "chain and the projects behind, for the unit and each unit below it that has projects. "
    "Tree-wide readers get the latest quarter's rollup once the year has one, others live "
    "figures. 404 for a unit outside the caller's scope.",
)
def unit_figures(args: dict[str, Any], code: str) -> Any:
    user = _reader()
    session = db.session()
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == read_code(code)[:32]))
    if unit is None or not in_scope(session, user, unit):
        raise missing("org_unit", code[:32])
    year = _year(user, args)
    total, rows, source = unit_overview(user, unit, year)
    return {
        "fiscal_year": year.be_year,
        "source": _source(source),
        "unit": _unit(unit, total),
        "children": [_unit(child, f) for child, f in rows],
    }


@blp.route("/overview/strategy")
@blp.arguments(OverviewArgs, location="query")
@blp.response(200, StrategyOverviewOut)
@blp.doc(
    summary="The strategy tree with each node's figures, over the projects the caller sees",
    description="The figures of /overview/strategy, node by node (depth first).",
)
def strategy_figures(args: dict[str, Any]) -> Any:
    user = _reader()
    year = _year(user, args)
    tree, source = strategy_overview(user, year)
    return {
        "fiscal_year": year.be_year,
        "source": _source(source),
        "nodes": [
            {
                "id": node.id,
                "code": node.code,
                "name": node.name,
                "parent_id": node.parent_id,
                "figures": _figures(f),
            }
            for node, f in tree
        ],
    }
