"""What the fiscal year's words are called: the year, the actions on it and its inputs."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

OBJECT_TYPES: dict[str, LazyString] = {
    "fiscal_year": _l("Fiscal year"),
}

ACTIONS: dict[str, LazyString] = {
    "fiscal_year.create": _l("Fiscal year added"),
    "fiscal_year.open": _l("Fiscal year opened"),
    "fiscal_year.close": _l("Fiscal year closed"),
}

FIELDS: dict[str, LazyString] = {
    "be_year": _l("Fiscal year"),
    "is_open": _l("Open for the year's work"),
}
