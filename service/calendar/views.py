"""The feed URL (no sign-in: the token is the key) and the person's own controls, drawn on
their settings page (templates/calendar/_settings.html)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, redirect
from flask import session as cookie
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as Answer

from service.calendar import operations
from service.calendar.feed import feed_events, render
from service.core.translate import gettext as _
from service.extensions import db
from service.org.models import User
from service.org.scope import user_with_roles
from service.workflow.screens import committed, run_change

bp = Blueprint("calendar", __name__)

SETTINGS = "/notifications/settings#calendar"
_NEW_URL = "tidtam.calendar_url"


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def feed_url(token: str) -> str:
    return current_app.config.get("PUBLIC_URL", "").rstrip("/") + f"/calendar/{token}.ics"


@bp.app_context_processor
def _calendar_card() -> dict[str, Any]:
    """`calendar_card()` for the settings page: the feed in force and, once, a new URL."""

    def calendar_card() -> dict[str, Any]:
        new = cookie.pop(_NEW_URL, None)
        return {
            "feed": operations.feed_of(db.session(), _user()),
            "url": new,
            "webcal": "webcal://" + new.split("://", 1)[-1] if new else None,
        }

    return {"calendar_card": calendar_card}


@bp.route("/calendar/<token>.ics")
def feed(token: str) -> Response:
    """The person's feed, computed now; 404 for an unknown or revoked token."""
    session = db.session()
    found = operations.feed_by_token(session, token)
    if found is None:
        abort(404)
    owner = user_with_roles(session, found.user_id)
    assert owner is not None
    body = render(
        feed_events(session, owner),
        owner,
        current_app.config.get("PUBLIC_URL", ""),
        urlsplit(current_app.config.get("PUBLIC_URL", "")).hostname or "tidtam",
    )
    committed(lambda: operations.stamp_use(found))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="tidtam.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/calendar/feed", methods=["POST"])
@login_required
def renew() -> ResponseReturnValue:
    """Make the person's feed URL (revoking the one in force) and show it once."""
    replacing = operations.feed_of(db.session(), _user()) is not None

    def shown_once(made: tuple[Any, str]) -> Answer:
        cookie[_NEW_URL] = feed_url(made[1])
        if replacing:
            flash(_("Your calendar feed has a new address; the old one no longer works."), "info")
        else:
            flash(_("Your calendar feed has its address: add it to your calendar app."), "info")
        return redirect(SETTINGS)

    return run_change(
        lambda: operations.renew_feed(db.session(), _user()),
        done="",
        back=SETTINGS,
        again=_settings_again,
        answer=shown_once,
    )


@bp.route("/calendar/feed/revoke", methods=["POST"])
@login_required
def revoke() -> ResponseReturnValue:

    def revoked(done: bool) -> Answer:
        if done:
            flash(_("Your calendar feed is revoked: its address no longer works."), "info")
        return redirect(SETTINGS)

    return run_change(
        lambda: operations.revoke_feed(db.session(), _user()),
        done="",
        back=SETTINGS,
        again=_settings_again,
        answer=revoked,
    )


def _settings_again(**_refused: Any) -> Answer:
    """A refused change of the feed: back to the settings page, the reason flashed."""
    return redirect(SETTINGS)
