"""What the strategy tree's words are called: its nodes and the actions on them."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

OBJECT_TYPES: dict[str, LazyString] = {
    "strategy_node": _l("Strategy"),
}

ACTIONS: dict[str, LazyString] = {
    "strategy.create": _l("Strategy added"),
}
