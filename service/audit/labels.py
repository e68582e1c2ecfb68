"""What the audit trail's words are called: the inputs of its filters."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

FIELDS: dict[str, LazyString] = {
    "from": _l("From"),
    "to": _l("To"),
}
