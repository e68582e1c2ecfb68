"""Template filters and globals for showing data: enum labels, instants, durations, plain
numbers, and the navigation each role gets. (Dates, baht, percent and Thai digits are in
`service.core.web`.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask, g, request, url_for
from flask_babel.speaklater import LazyString
from flask_login import current_user
from werkzeug.routing import BuildError

from service.core.labels import action_label, field_label, label, object_type_label
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.translate import ngettext
from service.dashboard import DASHBOARD_ROLES
from service.org.models import Role
from service.workflow import registry

BANGKOK = "Asia/Bangkok"


def be_datetime(value: datetime | None) -> str:
    """An instant as a Bangkok date (BE in Thai) and time: ``30 ธ.ค. 2565 10:00``."""
    from zoneinfo import ZoneInfo

    from service.core.thai import format_date
    from service.core.web import current_language

    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(BANGKOK))
    return f"{format_date(local.date(), current_language())} {local:%H:%M}"


def duration(value: timedelta) -> str:
    """A stay in a state in words, to the two largest units: ``3 days 4 hours``."""
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if minutes and not days:
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", minutes))
    if not parts:
        return _("under a minute")
    return " ".join(parts[:2])


def plain_number(value: Decimal | None) -> str:
    """A measure without trailing zeros or exponent: 0.0000 → 0, 3.5100 → 3.51, 100 → 100."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    text: LazyString

    @property
    def url(self) -> str:
        return url_for(self.endpoint)

    @property
    def current(self) -> bool:
        return request.endpoint == self.endpoint


#: Where each role works, in menu order. Part B adds its work screens here.
#: Shown only to someone not signed in.
ANONYMOUS: frozenset[Role] = frozenset()

NAVIGATION: list[tuple[NavItem, frozenset[Role] | None]] = [
    (NavItem("auth.home", _l("Home")), frozenset(Role)),
    (NavItem("dashboard.index", _l("Dashboard")), DASHBOARD_ROLES),
    # Officers and approvers reach the overviews from the dashboard's links: the bar holds one
    # line at 1280 px only with their work screens in it.
    (NavItem("rollups.overview", _l("Overview by unit")), frozenset({Role.EVALUATOR, Role.ADMIN})),
    # The role work screens (part B).
    (NavItem("school.home", _l("My steps")), frozenset({Role.SCHOOL})),
    (NavItem("review.queue", _l("Review queue")), frozenset({Role.OFFICER, Role.APPROVER})),
    (NavItem("budget.queue", _l("Budget")), frozenset({Role.OFFICER, Role.APPROVER})),
    (NavItem("budget.approvals", _l("Approvals")), frozenset({Role.APPROVER})),
    (NavItem("editor.new", _l("New project")), frozenset({Role.OFFICER, Role.APPROVER})),
    (NavItem("evaluations.queue", _l("Evaluations")), frozenset({Role.EVALUATOR})),
    (
        NavItem("kpis.index", _l("KPIs")),
        frozenset({Role.OFFICER, Role.APPROVER, Role.EVALUATOR, Role.SCHOOL}),
    ),
    (NavItem("admin.index", _l("System administration")), frozenset({Role.ADMIN})),
    # The public list is the way in for someone not signed in; the dashboard is everyone
    # else's list of projects.
    (NavItem("public.project_list", _l("Public project list")), ANONYMOUS),
]


def user_roles() -> frozenset[Role]:
    """The signed-in user's active roles (empty when anonymous), read once per request."""
    if "tidtam_roles" not in g:
        roles: frozenset[Role] = frozenset()
        if current_user and current_user.is_authenticated:
            from service.extensions import db
            from service.org.acting import authority
            from service.org.scope import role_names

            reader = authority(db.session())
            roles = frozenset(role_names(db.session(), reader)) if reader else frozenset()
        g.tidtam_roles = roles
    result: frozenset[Role] = g.tidtam_roles
    return result


def navigation() -> list[NavItem]:
    """The menu for the current user: items for any of their roles, and public items."""
    roles = user_roles()
    items = []
    for item, allowed in NAVIGATION:
        if item.endpoint not in _endpoints():
            continue
        if allowed is ANONYMOUS:
            if not current_user.is_authenticated:
                items.append(item)
        elif allowed is None or roles & allowed:
            items.append(item)
    return items


def _endpoints() -> set[str]:
    from flask import current_app

    return set(current_app.view_functions)


def subscore_labels() -> tuple[str, str]:
    """The labels of an evaluation's two sub-scores (EVALUATION_SUBSCORE_LABELS: 2.1, 2.2)."""
    from flask import current_app

    configured = [str(x).strip() for x in current_app.config.get("EVALUATION_SUBSCORE_LABELS", ())]
    if len(configured) < 2:
        return "2.1", "2.2"
    return configured[0], configured[1]


def language_url(code: str) -> str:
    """This page in language `code`, keeping its query (filters, page) as it is."""
    args: dict[str, Any] = request.args.to_dict()
    args["lang"] = code
    if request.endpoint and request.url_rule is not None and request.method == "GET":
        try:
            # The path's own values win over a query parameter of the same name (?code= on
            # /overview/units/<code> is not the unit's code).
            return url_for(request.endpoint, **{**args, **(request.view_args or {})})
        except BuildError:  # a rule that cannot be rebuilt: fall back to the query alone
            pass
    return "?lang=" + code


def _globals() -> dict[str, Any]:
    return {
        "language_url": language_url,
        "navigation": navigation,
        "subscore_labels": subscore_labels,
        "user_roles": user_roles,
        "uses_dashboard": lambda: bool(user_roles() & DASHBOARD_ROLES),
    }


def init_app(app: Flask) -> None:
    app.add_template_filter(label, "label")
    app.add_template_filter(registry.state_label, "state_label")
    app.add_template_filter(object_type_label, "object_type_label")
    app.add_template_filter(action_label, "action_label")
    app.add_template_filter(field_label, "field_label")
    app.add_template_filter(be_datetime, "be_datetime")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(plain_number, "plain_number")
    app.context_processor(_globals)
