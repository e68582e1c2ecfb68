"""The notification centre (/notifications: what you were told, unread count, mark read, how
you want to be told) and the admins' list of failed deliveries with a retry button. Simple
pages; the full UI builds on the same queries and the JSON endpoint."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from service.core.db import utcnow
from service.core.fields import FormId, Invalid, value_of
from service.core.fiscal import local_today
from service.core.permissions import administers
from service.core.translate import gettext as _
from service.core.web import current_language
from service.extensions import db
from service.notifications.models import Channel, DeliveryMode
from service.notifications.operations import (
    DIGEST_BY_DEFAULT,
    DeliverySettings,
    mark_read,
    retry_failed,
    set_preference,
)
from service.notifications.queries import (
    PREFERENCE_KINDS,
    centre_items,
    failed_notifications,
    header_facts,
    preferences_of,
    unread_count,
)
from service.org.models import User

bp = Blueprint("notifications", __name__)

#: Channels a person chooses for; webhooks are a unit's, set up by admins.
PERSONAL_CHANNELS = (Channel.IN_APP, Channel.EMAIL)


@bp.app_context_processor
def _bell() -> dict[str, object]:
    """`unread_notifications()` for the bell in every page's header and `may_act_for()`
    for its "act for someone" link: one statement for both, run only when the page draws
    the bell (a signed-in user)."""

    def facts() -> tuple[int, bool]:
        if "tidtam_header" not in g:
            g.tidtam_header = header_facts(db.session(), _user(), local_today())
        found: tuple[int, bool] = g.tidtam_header
        return found

    def unread_notifications() -> int:
        return facts()[0]

    def may_act_for() -> bool:
        return facts()[1]

    return {"unread_notifications": unread_notifications, "may_act_for": may_act_for}


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


@bp.route("/notifications")
@login_required
def centre() -> str:
    user = _user()
    session = db.session()
    return render_template(
        "notifications/centre.html",
        notes=centre_items(session, user, current_language()),
        unread=unread_count(session, user),
    )


@bp.route("/notifications/unread.json")
@login_required
def unread() -> ResponseReturnValue:
    return jsonify(unread=unread_count(db.session(), _user()))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read() -> ResponseReturnValue:
    """Mark one (`id`) or all of the user's notifications read."""
    try:
        ident = value_of(FormId(), request.form, "id")
    except Invalid:
        abort(400)
    ids = None if ident is None else [ident]
    changed = mark_read(db.session(), _user(), ids, now=utcnow())
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(marked=changed, unread=unread_count(db.session(), _user()))
    return redirect("/notifications")


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Per kind and channel: immediately, in the daily digest, or off."""
    user = _user()
    session = db.session()
    if request.method == "POST":
        for kind in PREFERENCE_KINDS:
            for channel in PERSONAL_CHANNELS:
                value = request.form.get(f"{kind}:{channel.value}")
                if value in {mode.value for mode in DeliveryMode}:
                    set_preference(session, user, kind, channel, DeliveryMode(value))
        session.commit()
        flash(_("Your notification settings are saved."), "info")
        return redirect("/notifications/settings")
    return render_template(
        "notifications/settings.html",
        kinds=PREFERENCE_KINDS,
        channels=PERSONAL_CHANNELS,
        modes=list(DeliveryMode),
        chosen={
            **{(kind, Channel.EMAIL): DeliveryMode.DIGEST for kind in DIGEST_BY_DEFAULT},
            **preferences_of(session, user),
        },
    )


def _admin_only() -> None:
    # Failed notifications of the whole tree: for the admins of a root unit.
    if not administers(db.session(), _user(), None):
        abort(403)


@bp.route("/admin/notifications/failed")
@login_required
def failed() -> str:
    _admin_only()
    return render_template("notifications/failed.html", failures=failed_notifications(db.session()))


@bp.route("/admin/notifications/<int:notification_id>/retry", methods=["POST"])
@login_required
def retry(notification_id: int) -> Response:
    _admin_only()
    settings = DeliverySettings.of(current_app)
    if retry_failed(
        db.session(), notification_id, now=utcnow(), requeue_after=settings.requeue_after
    ):
        db.session.commit()
        flash(_("The notification will be sent again."), "info")
    else:
        db.session.rollback()
        flash(_("That notification has not failed."), "error")
    return redirect("/admin/notifications/failed")
