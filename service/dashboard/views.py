"""The district dashboard `/dashboard`: the unit's projects for a fiscal year, with progress
against plan, behind schedule, overdue steps and budget; sortable, filterable, paginated,
and exported as CSV or XLSX (`?format=csv|xlsx`, every row the reader may see)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import BeYear, Invalid, value_of
from service.core.fiscal import local_today
from service.core.labels import label
from service.core.paging import page_number
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.dashboard import DASHBOARD_ROLES, queries
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.org import acting
from service.org.models import User
from service.org.scope import in_scope, role_names

bp = Blueprint("dashboard", __name__)


def read_filters(
    session: Any,
    user: User | None,
    args: MultiDict[str, str],
    today: Any,
    years: list[FiscalYear] | None = None,
) -> queries.Filters | None:
    """The filters the query string asks for; None when there is no fiscal year at all.

    An unknown year or a unit outside the reader's scope is a 404 (it names nothing they may
    list; its page says so, `_no_unit_of`, `_no_year`); an unknown sort key falls back to the code.
    `years`: every fiscal year, already read for the page's year menu (the asked year is
    found among them, not read again).
    """
    year: FiscalYear | None
    raw_year = args.get("year", "")
    if raw_year:
        try:
            be_year = value_of(BeYear(), args, "year")
        except Invalid:
            _no_year(raw_year)
        if years is None:
            year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
        else:
            year = next((y for y in years if y.be_year == be_year), None)
        if year is None:
            _no_year(raw_year)
    else:
        year = queries.default_year(session, user, today)
        if year is None:
            return None
    unit = None
    if args.get("unit"):
        unit = queries.unit_by_code(session, args["unit"])
        if unit is None or (user is not None and not in_scope(session, user, unit)):
            _no_unit_of(args["unit"])
    sort = args.get("sort", "code")
    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    if sort not in queries.SORT_KEYS:
        sort, descending = "code", False
    return queries.Filters(
        year=year,
        unit=unit,
        q=args.get("q", "").replace("\x00", "")[:200],  # no text column holds a NUL
        behind=args.get("behind") == "1",
        sort=sort,
        descending=descending,
        page=page if (page := page_number(args.get("page"))) < 100_000 else 1,
        after=args.get("after", "")[:2000] or None,
    )


def _not_found_by(name: str, message: str, back_label: str) -> NoReturn:
    """A 404 for a filter `name` (unit, year) that names nothing the reader may list, saying
    so in `message`, with a link to the same list without that filter (the others kept)."""
    kept: dict[str, Any] = {
        k: v for k, v in request.args.items() if k not in (name, "page", "after", "format")
    }
    endpoint = request.endpoint or "dashboard.index"
    page = render_template(
        "error.html",
        code=404,
        message=message,
        back=url_for(endpoint, **(request.view_args or {}), **kept),
        back_label=back_label,
    )
    abort(Response(page, status=404, mimetype="text/html"))


def _no_unit_of(code: str) -> NoReturn:
    """A unit filter naming no unit the reader may see: whether a unit of that code lies
    outside their reach is not told."""
    _not_found_by(
        "unit",
        _(
            "No unit of the code %(code)s is among the units you may see.",
            code=code.strip()[:40],
        ),
        _("The list without the unit filter"),
    )


def _no_year(raw: str) -> NoReturn:
    """A year filter naming no fiscal year of the service (a typed 9999, an old link)."""
    _not_found_by(
        "year",
        _("There is no fiscal year %(year)s here.", year=raw.strip()[:12]),
        _("The list of the current fiscal year"),
    )


def listing_columns(public: bool) -> list[Column]:
    """The exported columns of a project listing (the public one leaves out internal ones)."""
    from service.core.web import current_language

    lang = current_language()
    columns = [
        Column(_l("Project code"), lambda r: r.code, width=16),
        Column(_l("Project"), lambda r: r.name, width=60),
        Column(_l("Responsible unit"), lambda r: r.unit_name(lang), width=28),
        Column(_l("Project state"), lambda r: label(r.state), width=16),
        Column(_l("Progress (percent)"), lambda r: r.actual, "percent"),
        Column(_l("Plan (percent)"), lambda r: r.planned, "percent"),
        Column(_l("Points behind plan"), lambda r: r.gap, "percent"),
        Column(_l("Behind schedule"), lambda r: _("Yes") if r.behind else _("No")),
        Column(_l("Overdue steps"), lambda r: r.overdue, "number"),
        Column(_l("Approved budget (baht)"), lambda r: r.approved, "money", 18),
    ]
    if not public:
        columns += [
            Column(_l("Allocated (baht)"), lambda r: r.allocated, "money", 18),
            Column(_l("Installments granted (baht)"), lambda r: r.granted, "money", 18),
        ]
    columns.append(Column(_l("Paid (baht)"), lambda r: r.paid, "money", 18))
    return columns


def sort_links(
    args: MultiDict[str, str], endpoint: str, filters: queries.Filters
) -> dict[str, Any]:
    """For each sort key: the URL that sorts by it (toggling direction when it is the current
    key) and the aria-sort value of its column."""
    links = {}
    for key in queries.SORT_KEYS:
        current = filters.sort == key
        wanted = f"-{key}" if current and not filters.descending else key
        query: dict[str, Any] = {
            k: v for k, v in args.items() if k not in ("sort", "page", "format")
        }
        query["sort"] = wanted
        aria = ("descending" if filters.descending else "ascending") if current else "none"
        links[key] = {"url": url_for(endpoint, **query), "aria": aria, "current": current}
    return links


def page_url(args: MultiDict[str, str], endpoint: str, page: int) -> str:
    query: dict[str, Any] = {k: v for k, v in args.items() if k not in ("page", "format")}
    query["page"] = str(page)
    return url_for(endpoint, **query)


def export_url(args: MultiDict[str, str], endpoint: str, fmt: str) -> str:
    query: dict[str, Any] = {k: v for k, v in args.items() if k not in ("page", "format")}
    query["format"] = fmt
    return url_for(endpoint, **query)


def _export_name(prefix: str, filters: queries.Filters) -> str:
    unit = f"-{filters.unit.code}" if filters.unit is not None else ""
    return f"{prefix}-{filters.year.be_year}{unit}"


@bp.route("/dashboard")
@login_required
def index() -> ResponseReturnValue:
    session = db.session()
    user = acting.authority(session)
    if user is None:  # pragma: no cover - behind login_required
        abort(401)
    if not role_names(session, user) & DASHBOARD_ROLES:
        abort(403)
    today = local_today()
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            abort(404)
        filters = read_filters(session, user, request.args, today)
        if filters is not None:
            ids = queries.export_ids(session, user, filters, today)
            rows = rows_in_chunks(ids, partial(queries.rows_of, filters=filters, day=today))
            return download(
                fmt,
                _export_name("dashboard", filters),
                listing_columns(False),
                rows,
                _("Dashboard"),
            )
    return render_template("dashboard/index.html", body=_body(user, today))


def _body(user: User, today: Any) -> Markup:
    """The dashboard below the menu: filters, the page of projects, paging and exports."""
    session = db.session()
    years = queries.fiscal_years(session)
    filters = read_filters(session, user, request.args, today, years)
    listing = queries.project_listing(session, user, filters, today) if filters else None
    html = render_template(
        "dashboard/_body.html",
        filters=filters,
        listing=listing,
        today=today,
        years=years,
        units=queries.filter_units(session, user, filters.unit if filters else None),
        sorts=sort_links(request.args, "dashboard.index", filters) if filters else {},
        page_url=lambda page: page_url(request.args, "dashboard.index", page),
        export_url=lambda fmt: export_url(request.args, "dashboard.index", fmt),
    )
    return Markup(html)  # a template's output: escaped as it was rendered


def pages_around(current: int, pages: int) -> Sequence[int | None]:
    """Page numbers to link: the first, the last and two either side of `current`, with None
    where numbers are skipped."""
    shown = sorted({1, pages, *range(max(current - 2, 1), min(current + 2, pages) + 1)})
    result: list[int | None] = []
    for number in shown:
        if result and result[-1] is not None and number - result[-1] > 1:
            result.append(None)
        result.append(number)
    return result


#: What each sort key is called in the sort menu (phones show no sortable table headers).
SORT_NAMES = {
    "code": _l("Code"),
    "name": _l("Project"),
    "unit": _l("Responsible unit"),
    "actual": _l("Progress"),
    "planned": _l("Plan"),
    "gap": _l("Behind by"),
    "overdue": _l("Overdue steps"),
    "approved": _l("Approved (baht)"),
    "paid": _l("Paid (baht)"),
}


@bp.app_template_global("sort_choices")
def sort_choices() -> list[tuple[str, str]]:
    return [(key, str(SORT_NAMES[key])) for key in queries.SORT_KEYS]


@bp.app_template_global("with_after")
def with_after(url: str, cursor: str, after_key: str = "after", page_key: str = "page") -> str:
    """`url` asking for the rows after `cursor` (its page number dropped, its anchor kept).
    A page with two lists names each list's cursor and page number apart (`after_key`,
    `page_key`)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in (page_key, after_key)
    ]
    query.append((after_key, cursor))
    return urlunsplit(parts._replace(query=urlencode(query)))


@bp.app_template_global("pages_around")
def _pages_around(current: int, pages: int) -> Sequence[int | None]:
    return pages_around(current, pages)
