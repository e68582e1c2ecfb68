"""What the demonstration data's words are called: loading it."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

ACTIONS: dict[str, LazyString] = {
    "demo.load": _l("Demo data loaded"),
}
