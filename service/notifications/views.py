"""The notification centre (/notifications: what you were told, unread count, mark read, how
you want to be told, your LINE link), a unit's LINE groups (/line/groups), the LINE webhook
(/line/webhook), a unit's webhook endpoints (/admin/webhooks) and the admins' list of failed
deliveries with a retry of one or of all. Every change is an operation of
service.notifications.operations (the API calls the same ones)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from service.core.db import utcnow
from service.core.fields import FormId, Invalid, value_of
from service.core.fiscal import local_today
from service.core.labels import label
from service.core.permissions import administers, is_admin_anywhere
from service.core.translate import gettext as _
from service.core.web import current_language
from service.extensions import csrf, db
from service.notifications.line import InvalidSignatureError, LineSettings, parse_events
from service.notifications.messages import describe
from service.notifications.models import (
    Channel,
    DeliveryMode,
    DeliveryState,
    LineAccount,
    LineGroup,
    LineLinkCode,
    Notification,
    WebhookEndpoint,
)
from service.notifications.operations import (
    DIGEST_BY_DEFAULT,
    DeliverySettings,
    create_webhook,
    line_group_joined,
    line_group_left,
    line_message_received,
    make_line_code,
    mark_read,
    retry_endpoint_delivery,
    retry_failed_all,
    retry_failed_by,
    rotate_webhook_secret,
    send_webhook_test,
    set_preference,
    unlink_line_account,
    unlink_line_group,
    update_webhook,
    withdraw_webhook,
)
from service.notifications.queries import (
    PREFERENCE_KINDS,
    centre_items,
    endpoint_deliveries,
    failed_counts,
    failed_notifications,
    header_facts,
    preference_kinds,
    preferences_of,
    unread_count,
)
from service.org.models import OrgUnit, Role, User
from service.org.scope import active_roles
from service.workflow.engine import Refused
from service.workflow.screens import committed, gate, run_change, signed_in

bp = Blueprint("notifications", __name__)

#: Channels a person chooses for; webhooks are a unit's, set up by admins.
PERSONAL_CHANNELS = (Channel.IN_APP, Channel.EMAIL, Channel.LINE)


@bp.app_template_filter("channel_label")
def channel_label(value: object) -> str:
    return label(Channel(str(getattr(value, "value", value))))


@bp.app_template_filter("delivery_state_label")
def delivery_state_label(value: object) -> str:
    return label(DeliveryState(str(getattr(value, "value", value))))


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

    def marked(changed: int) -> Any:
        if request.accept_mimetypes.best == "application/json":
            return jsonify(marked=changed, unread=unread_count(db.session(), _user()))
        return redirect("/notifications")

    return run_change(
        lambda: mark_read(db.session(), _user(), ids, now=utcnow()),
        done="",
        back="/notifications",
        again=lambda **_refused: redirect("/notifications"),
        answer=marked,
    )


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@login_required
def open_note(notification_id: int) -> ResponseReturnValue:
    """Follow a notification from the centre: it is marked read, then the reader is taken
    where it points (read from the notification, never from the request)."""
    user = _user()
    session = db.session()
    note = session.get(Notification, notification_id)
    if note is None or note.recipient_id != user.id or note.channel is not Channel.IN_APP:
        abort(404)
    words = describe(
        session, note.object_type, note.object_id, note.payload, current_language(), note.kind
    )
    # Its path on this server: the link is absolute on PUBLIC_URL, the address mails carry
    # (and never another site's).
    parts = urlsplit(words.get("link") or "/notifications")
    link = urlunsplit(("", "", parts.path or "/notifications", parts.query, parts.fragment))
    return run_change(
        lambda: mark_read(session, user, [notification_id], now=utcnow()),
        done="",
        back=link,
        again=lambda **_refused: redirect(link),
        answer=lambda _changed: redirect(link),
    )


def _line_settings() -> LineSettings:
    return LineSettings.of(current_app.config)


def _settings_page(new_code: LineLinkCode | None = None) -> str:
    user = _user()
    session = db.session()
    account = session.scalar(select(LineAccount).where(LineAccount.user_id == user.id))
    line_ready = _line_settings().configured
    line_linked = account is not None and account.line_user_id is not None
    return render_template(
        "notifications/settings.html",
        # LINE's own kinds only where LINE is set up: nothing of them happens without it.
        kinds=[
            k for k in preference_kinds(session, user) if line_ready or not k.startswith("line_")
        ],
        # LINE's column only once LINE can reach the person: choices for a channel that
        # delivers nothing ("immediately", by LINE, with LINE not set up) mislead
        channels=[c for c in PERSONAL_CHANNELS if c is not Channel.LINE or line_linked],
        modes=list(DeliveryMode),
        chosen={
            **{
                (kind, channel): DeliveryMode.DIGEST
                for kind in DIGEST_BY_DEFAULT
                for channel in (Channel.EMAIL, Channel.LINE)
            },
            **preferences_of(session, user),
        },
        line_ready=line_ready,
        line_linked=line_linked,
        line_code=new_code,
        add_friend=current_app.config.get("LINE_ADD_FRIEND_URL", ""),
        links_groups=bool(_linkable_units(user)),
    )


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Per kind and channel: immediately, in the daily digest, or off; and the LINE link."""
    user = _user()
    session = db.session()
    if request.method == "POST":

        def change() -> None:
            for kind in PREFERENCE_KINDS:
                for channel in PERSONAL_CHANNELS:
                    value = request.form.get(f"{kind}:{channel.value}")
                    if value in {mode.value for mode in DeliveryMode}:
                        set_preference(session, user, kind, channel, DeliveryMode(value))

        return run_change(
            change,
            done=_("Your notification settings are saved."),
            back="/notifications/settings",
            again=lambda status, **_refused: (_settings_page(), status),
        )
    return _settings_page()


@bp.route("/notifications/line/code", methods=["POST"])
@login_required
def line_code() -> ResponseReturnValue:
    """A one-time code to send to the Official Account, shown in this answer only."""

    def shown_once(code: LineLinkCode) -> Response:
        return _no_store(_settings_page(new_code=code))

    return run_change(
        lambda: make_line_code(db.session(), _user(), now=utcnow()),
        done="",
        back="/notifications/settings",
        again=lambda status, **_refused: (_settings_page(), status),
        answer=shown_once,
    )


@bp.route("/notifications/line/unlink", methods=["POST"])
@login_required
def line_unlink() -> ResponseReturnValue:

    def unlinked(done: bool) -> Response:
        if done:
            flash(_("Your LINE account is unlinked: nothing more is sent to it."), "info")
        return redirect("/notifications/settings")

    return run_change(
        lambda: unlink_line_account(db.session(), _user()),
        done="",
        back="/notifications/settings",
        again=lambda **_refused: redirect("/notifications/settings"),
        answer=unlinked,
    )


# ---- a unit's LINE groups --------------------------------------------------------------------


def _linkable_units(user: User) -> list[OrgUnit]:
    """The units where `user` holds officer or admin: the units whose groups they link."""
    session = db.session()
    units = {
        a.unit.id: a.unit
        for a in active_roles(session, user)
        if a.role in (Role.OFFICER, Role.ADMIN)
    }
    return sorted(units.values(), key=lambda unit: unit.path)


def _groups_page(new_code: LineLinkCode | None = None, status: int = 200) -> tuple[str, int]:
    units = _linkable_units(_user())
    groups = list(
        db.session.scalars(
            select(LineGroup)
            .where(LineGroup.unit_id.in_([u.id for u in units]), LineGroup.left_at.is_(None))
            .order_by(LineGroup.id)
        )
    )
    page = render_template(
        "notifications/line_groups.html",
        units=units,
        groups=groups,
        line_ready=_line_settings().configured,
        new_code=new_code,
        code_unit=db.session.get(OrgUnit, new_code.unit_id) if new_code else None,
    )
    return page, status


@bp.route("/line/groups")
@login_required
def line_groups() -> tuple[str, int]:
    if not _linkable_units(_user()):
        abort(403)
    return _groups_page()


@bp.route("/line/groups/code", methods=["POST"])
@login_required
def line_group_code() -> ResponseReturnValue:
    """A one-time code to type in the LINE group the bot was invited to."""
    unit_id = _form_id("unit_id")
    unit = db.session.get(OrgUnit, unit_id) if unit_id else None
    if unit is None or unit.id not in {u.id for u in _linkable_units(_user())}:
        abort(404)

    def shown_once(code: LineLinkCode) -> Response:
        page, status = _groups_page(new_code=code)
        return _no_store(page, status)

    return run_change(
        lambda: make_line_code(db.session(), _user(), unit=unit, now=utcnow()),
        done="",
        back="/line/groups",
        again=lambda status, **_refused: _groups_page(status=status),
        answer=shown_once,
    )


@bp.route("/line/groups/<int:group_id>/unlink", methods=["POST"])
@login_required
def line_group_unlink(group_id: int) -> ResponseReturnValue:
    group = db.session.get(LineGroup, group_id)
    if group is None or group.unit_id not in {u.id for u in _linkable_units(_user())}:
        abort(404)
    return run_change(
        lambda: unlink_line_group(db.session(), _user(), group),
        done=_("The LINE group is unlinked: nothing more is sent to it."),
        back="/line/groups",
        again=lambda status, **_refused: _groups_page(status=status),
    )


@bp.route("/line/webhook", methods=["POST"])
@csrf.exempt
def line_webhook() -> ResponseReturnValue:
    """LINE's webhook: events signed with the channel secret (X-Line-Signature, checked by the
    SDK's WebhookParser; anything else is refused with 400). A bot invited to a group or
    removed from it, and codes sent to the account or typed in a group, are recorded."""
    body = request.get_data(as_text=True)
    signature = request.headers.get("X-Line-Signature", "")
    try:
        events = parse_events(_line_settings().channel_secret, body, signature)
    except (InvalidSignatureError, ValueError, KeyError, TypeError):
        return jsonify(error="invalid signature or body"), 400
    session = db.session()

    def record_events() -> None:
        for event in events:
            now = utcnow()
            if event.type == "join" and event.group_id:
                line_group_joined(session, event.group_id, now=now)
            elif event.type == "leave" and event.group_id:
                line_group_left(session, event.group_id, now=now)
            elif event.type == "message" and event.text:
                line_message_received(
                    session,
                    user_id=event.user_id,
                    group_id=event.group_id,
                    text=event.text,
                    now=now,
                )

    # Not a form: LINE is answered "ok" once the events are committed.
    committed(record_events)
    return jsonify(ok=True)


# ---- failed deliveries -----------------------------------------------------------------------


#: The failed deliveries of the whole tree, and the webhooks with their secrets, are the
#: signed-in admin's own to see: acting for someone under a delegation does not open them.
whole_tree_admin = gate(lambda session, user: administers(session, user, None), whose=signed_in)
admin_anywhere = gate(is_admin_anywhere, whose=signed_in)


@bp.route("/admin/notifications/failed")
@whole_tree_admin
def failed() -> str:
    session = db.session()
    return render_template(
        "notifications/failed.html",
        failures=failed_notifications(session),
        counts=failed_counts(session),
        channels=list(Channel),
        kinds=sorted({kind for _channel, kind, _count in failed_counts(session)}),
    )


FAILED_PAGE = "/admin/notifications/failed"


@bp.route("/admin/notifications/<int:notification_id>/retry", methods=["POST"])
@whole_tree_admin
def retry(notification_id: int) -> ResponseReturnValue:
    settings = DeliverySettings.of(current_app)

    def retried(again: bool) -> Response:
        if again:
            flash(_("The notification will be sent again."), "info")
        else:  # nothing was written: the delivery had not failed
            flash(_("That notification has not failed."), "error")
        return redirect(FAILED_PAGE)

    return _retry(
        lambda: retry_failed_by(
            db.session(),
            _user(),
            notification_id,
            now=utcnow(),
            requeue_after=settings.requeue_after,
        ),
        retried,
    )


@bp.route("/admin/notifications/retry-failed", methods=["POST"])
@whole_tree_admin
def retry_all() -> ResponseReturnValue:
    """Every failed delivery of the chosen channel and kind (or all) is tried again."""
    channel_value = request.form.get("channel", "")
    kind = request.form.get("kind", "") or None
    if channel_value and channel_value not in {c.value for c in Channel}:
        abort(400)
    if kind is not None and len(kind) > 64:
        abort(400)
    settings = DeliverySettings.of(current_app)

    def retried(ids: list[int]) -> Response:
        flash(_("%(count)s notifications will be sent again.", count=len(ids)), "info")
        return redirect(FAILED_PAGE)

    return _retry(
        lambda: retry_failed_all(
            db.session(),
            _user(),
            channel=Channel(channel_value) if channel_value else None,
            kind=kind,
            now=utcnow(),
            requeue_after=settings.requeue_after,
        ),
        retried,
    )


def _retry(change: Callable[[], Any], answer: Callable[[Any], Response]) -> ResponseReturnValue:
    """A retry of failed deliveries through the pages' one commit; back to the failed list,
    with the reason when refused."""
    return run_change(
        change,
        done="",
        back=FAILED_PAGE,
        again=lambda **_refused: redirect(FAILED_PAGE),
        answer=answer,
    )


def _form_id(name: str) -> int | None:
    try:
        found: int | None = value_of(FormId(), request.form, name)
    except Invalid:
        abort(400)
    return found


# ---- a unit's webhook endpoints --------------------------------------------------------------


def _administered_units() -> list[OrgUnit]:
    """The units the admin administers (each with its subtree), in tree order."""
    session = db.session()
    user = _user()
    if administers(session, user, None):
        return list(session.scalars(select(OrgUnit).order_by(OrgUnit.path)))
    roots = [a.unit for a in active_roles(session, user) if a.role is Role.ADMIN]
    if not roots:
        return []
    return list(
        session.scalars(
            select(OrgUnit)
            .where(or_(*(OrgUnit.path.startswith(unit.path) for unit in roots)))
            .order_by(OrgUnit.path)
        )
    )


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    unit = db.session.get(OrgUnit, endpoint.unit_id)
    if unit is None or not administers(db.session(), _user(), unit):
        abort(404)  # another unit's endpoint is not told apart from none
    return endpoint


def _webhooks_page(
    *,
    new_secret: str = "",
    form: dict[str, Any] | None = None,
    errors: Any = None,
    status: int = 200,
) -> tuple[str, int]:
    units = _administered_units()
    endpoints = list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.unit_id.in_([u.id for u in units]))
            .order_by(WebhookEndpoint.id)
        )
    )
    page = render_template(
        "notifications/webhooks.html",
        units=units,
        unit_names={u.id: u for u in units},
        endpoints=endpoints,
        kinds=PREFERENCE_KINDS,
        new_secret=new_secret,
        form=form or {},
        # The kinds ticked in a refused form, ticked again (to_dict keeps only one).
        form_kinds=request.form.getlist("kinds") if form else [],
        errors=errors or {},
        whole_tree=administers(db.session(), _user(), None),
    )
    return page, status


def _no_store(page: str, status: int = 200) -> Response:
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/webhooks")
@admin_anywhere
def webhooks() -> tuple[str, int]:
    return _webhooks_page()


@bp.route("/admin/webhooks", methods=["POST"])
@admin_anywhere
def create_webhook_page() -> Response | tuple[str, int]:
    """Make an endpoint and show its secret in this answer only."""
    unit_id = _form_id("unit_id")
    unit = db.session.get(OrgUnit, unit_id) if unit_id else None
    if unit is None:
        return _webhooks_page(
            form=request.form.to_dict(),
            errors={"unit_id": _("choose one from the list")},
            status=422,
        )

    def made(result: tuple[WebhookEndpoint, str]) -> Response:
        page, _status = _webhooks_page(new_secret=result[1])
        return _no_store(page)

    return run_change(
        lambda: create_webhook(
            db.session(),
            _user(),
            unit,
            url=request.form.get("url", ""),
            kinds=request.form.getlist("kinds"),
            name=request.form.get("name", ""),
        ),
        done="",
        back="/admin/webhooks",
        again=lambda **kw: _webhooks_page(**kw),
        answer=made,
    )


def _endpoint_page(
    endpoint: WebhookEndpoint,
    *,
    new_secret: str = "",
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: Any = None,
    typed_kinds: list[str] | None = None,
    **_kw: Any,
) -> tuple[str, int]:
    """The endpoint's page; after a refused change, its form shows what was typed (`form`,
    `typed_kinds`) with each field's problem (`errors`)."""
    page = render_template(
        "notifications/webhook.html",
        endpoint=endpoint,
        form=form or {},
        errors=errors or {},
        typed_kinds=typed_kinds,
        unit=db.session.get(OrgUnit, endpoint.unit_id),
        kinds=PREFERENCE_KINDS,
        log=endpoint_deliveries(db.session(), endpoint.id),
        new_secret=new_secret,
        whole_tree=administers(db.session(), _user(), None),
    )
    return page, status


@bp.route("/admin/webhooks/<int:endpoint_id>")
@login_required
def webhook(endpoint_id: int) -> tuple[str, int]:
    return _endpoint_page(_endpoint(endpoint_id))


@bp.route("/admin/webhooks/<int:endpoint_id>", methods=["POST"])
@login_required
def update_webhook_page(endpoint_id: int) -> Response | tuple[str, int]:
    endpoint = _endpoint(endpoint_id)
    return run_change(
        lambda: update_webhook(
            db.session(),
            _user(),
            endpoint,
            url=request.form.get("url", ""),
            kinds=request.form.getlist("kinds"),
            name=request.form.get("name", ""),
        ),
        done=_("The webhook is saved."),
        back=f"/admin/webhooks/{endpoint_id}",
        again=lambda **kw: _endpoint_page(
            endpoint,
            form=kw.get("form"),
            errors=kw.get("errors"),
            typed_kinds=request.form.getlist("kinds"),
            status=kw.get("status", 422),
        ),
    )


@bp.route("/admin/webhooks/<int:endpoint_id>/rotate", methods=["POST"])
@login_required
def rotate_webhook_page(endpoint_id: int) -> Response | tuple[str, int]:
    endpoint = _endpoint(endpoint_id)

    def shown(secret: str) -> Response:
        page, _status = _endpoint_page(endpoint, new_secret=secret)
        return _no_store(page)

    return run_change(
        lambda: rotate_webhook_secret(db.session(), _user(), endpoint, now=utcnow()),
        done="",
        back=f"/admin/webhooks/{endpoint_id}",
        again=lambda **kw: _endpoint_page(endpoint, status=kw.get("status", 409)),
        answer=shown,
    )


@bp.route("/admin/webhooks/<int:endpoint_id>/test", methods=["POST"])
@login_required
def test_webhook_page(endpoint_id: int) -> Response | tuple[str, int]:
    endpoint = _endpoint(endpoint_id)
    settings = DeliverySettings.of(current_app)
    return run_change(
        lambda: send_webhook_test(
            db.session(), _user(), endpoint, now=utcnow(), requeue_after=settings.requeue_after
        ),
        done=_("A test delivery is on its way; its outcome appears in the log below."),
        back=f"/admin/webhooks/{endpoint_id}",
        again=lambda **kw: _endpoint_page(endpoint, status=kw.get("status", 409)),
    )


@bp.route("/admin/webhooks/<int:endpoint_id>/withdraw", methods=["POST"])
@login_required
def withdraw_webhook_page(endpoint_id: int) -> Response | tuple[str, int]:
    endpoint = _endpoint(endpoint_id)
    return run_change(
        lambda: withdraw_webhook(db.session(), _user(), endpoint, now=utcnow()),
        done=_("The webhook is withdrawn: nothing more is sent to it."),
        back="/admin/webhooks",
        again=lambda **kw: _endpoint_page(endpoint, status=kw.get("status", 409)),
    )


@bp.route(
    "/admin/webhooks/<int:endpoint_id>/deliveries/<int:notification_id>/retry", methods=["POST"]
)
@login_required
def retry_webhook_delivery(endpoint_id: int, notification_id: int) -> Response | tuple[str, int]:
    endpoint = _endpoint(endpoint_id)
    settings = DeliverySettings.of(current_app)

    def change() -> bool:
        if not retry_endpoint_delivery(
            db.session(),
            _user(),
            endpoint,
            notification_id,
            now=utcnow(),
            requeue_after=settings.requeue_after,
        ):
            raise Refused(409, _("That notification has not failed."))
        return True

    return run_change(
        change,
        done=_("The notification will be sent again."),
        back=f"/admin/webhooks/{endpoint_id}",
        again=lambda **kw: _endpoint_page(endpoint, status=kw.get("status", 409)),
    )
