"""What the calendar feed's words are called: the actions on a feed's address."""

from __future__ import annotations

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l

ACTIONS: dict[str, LazyString] = {
    "calendar_feed.create": _l("Calendar feed address made"),
    "calendar_feed.revoke": _l("Calendar feed address revoked"),
}
