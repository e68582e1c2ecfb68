"""/api/v1/webhooks and /api/v1/notifications: a unit's webhook endpoints (an admin of the
unit manages them: made and rotated secrets shown once, a test delivery, the delivery log and
the retry of a failed delivery), and the retry of every failed delivery at once (admins of
the whole tree). Each change calls the operation the /admin pages call."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import PageArgs, Presented, page_of
from service.api.transitions import ID
from service.core.db import utcnow
from service.core.permissions import administers
from service.extensions import db
from service.notifications import operations
from service.notifications.models import Notification, WebhookEndpoint
from service.notifications.operations import DeliverySettings
from service.notifications.schemas import (
    DeliveryFilter,
    DeliveryOut,
    NewWebhookOut,
    RetriedOut,
    RetryFailed,
    WebhookCreate,
    WebhookOut,
    WebhookSecretOut,
    WebhookUpdate,
)
from service.org.models import OrgUnit
from service.org.scope import active_roles
from service.workflow.engine import Refused, missing

blp = Blueprint(
    "api_notifications",
    __name__,
    url_prefix="/api/v1",
    description="Webhook endpoints and failed notifications",
)


def _requeue_after() -> Any:
    return DeliverySettings.of(current_app).requeue_after


def _endpoint(ident: int) -> WebhookEndpoint:
    """The endpoint, if the caller administers its unit; 404 otherwise (not told apart)."""
    session = db.session()
    endpoint = session.get(WebhookEndpoint, ident)
    unit = session.get(OrgUnit, endpoint.unit_id) if endpoint else None
    if endpoint is None or unit is None or not administers(session, actor(), unit):
        raise missing("webhook_endpoint", ident)
    return endpoint


@blp.route("/webhooks")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WebhookOut, "WebhookPage"))
@blp.doc(summary="Webhook endpoints of the units the caller administers")
def list_webhooks(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if not administers(session, user, None):
        from sqlalchemy import false, or_

        roots = [a.unit for a in active_roles(session, user) if a.role.value == "admin"]
        stmt = stmt.join(OrgUnit, OrgUnit.id == WebhookEndpoint.unit_id).where(
            or_(*(OrgUnit.path.startswith(u.path) for u in roots)) if roots else false()
        )
    return paginate(session, stmt, args)


@blp.route("/webhooks", methods=["POST"])
@blp.arguments(WebhookCreate)
@blp.response(201, NewWebhookOut)
@blp.doc(summary="Add a webhook endpoint to a unit (its admins): the secret is shown once")
@commits
def create_webhook(data: dict[str, Any]) -> Any:
    session = db.session()
    unit = session.get(OrgUnit, data["unit_id"])
    if unit is None:
        raise missing("org_unit", data["unit_id"])
    endpoint, secret = operations.create_webhook(
        session, actor(), unit, url=data["url"], kinds=data["kinds"], name=data["name"]
    )
    return Presented(endpoint, secret=secret)


@blp.route(f"/webhooks/<{ID}:ident>")
@blp.response(200, WebhookOut)
@blp.doc(summary="One webhook endpoint")
def get_webhook(ident: int) -> Any:
    return _endpoint(ident)


@blp.route(f"/webhooks/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(WebhookUpdate)
@blp.response(200, WebhookOut)
@blp.doc(summary="Change an endpoint's address, name or kinds")
@commits
def update_webhook(data: dict[str, Any], ident: int) -> Any:
    return operations.update_webhook(db.session(), actor(), _endpoint(ident), **data)


@blp.route(f"/webhooks/<{ID}:ident>", methods=["DELETE"])
@blp.response(204)
@blp.doc(summary="Withdraw an endpoint (kept with its log; nothing more is sent to it)")
@commits
def withdraw_webhook(ident: int) -> Any:
    operations.withdraw_webhook(db.session(), actor(), _endpoint(ident), now=utcnow())
    return None


@blp.route(f"/webhooks/<{ID}:ident>/rotate-secret", methods=["POST"])
@blp.response(200, WebhookSecretOut)
@blp.doc(summary="A new signing secret, shown once")
@commits
def rotate_secret(ident: int) -> Any:
    secret = operations.rotate_webhook_secret(db.session(), actor(), _endpoint(ident), now=utcnow())
    return {"id": ident, "secret": secret}


@blp.route(f"/webhooks/<{ID}:ident>/test", methods=["POST"])
@blp.response(202, DeliveryOut)
@blp.doc(summary="Queue a test delivery (kind webhook.test); its outcome is in the log")
@commits
def send_test(ident: int) -> Any:
    return operations.send_webhook_test(
        db.session(), actor(), _endpoint(ident), now=utcnow(), requeue_after=_requeue_after()
    )


@blp.route(f"/webhooks/<{ID}:ident>/deliveries")
@blp.arguments(DeliveryFilter, location="query")
@blp.response(200, page_of(DeliveryOut, "DeliveryPage"))
@blp.doc(summary="The endpoint's delivery log, newest first")
def deliveries(args: dict[str, Any], ident: int) -> Any:
    endpoint = _endpoint(ident)
    stmt = (
        select(Notification)
        .where(Notification.endpoint_id == endpoint.id)
        .order_by(Notification.id.desc())
    )
    if "state" in args:
        stmt = stmt.where(Notification.state == args["state"])
    return paginate(db.session(), stmt, args)


@blp.route(f"/webhooks/<{ID}:ident>/deliveries/<{ID}:delivery>/retry", methods=["POST"])
@blp.response(202, DeliveryOut)
@blp.doc(summary="Try a failed delivery of the log again")
@commits
def retry_delivery(ident: int, delivery: int) -> Any:
    session = db.session()
    endpoint = _endpoint(ident)
    if not operations.retry_endpoint_delivery(
        session, actor(), endpoint, delivery, now=utcnow(), requeue_after=_requeue_after()
    ):
        from service.core.translate import gettext as _

        raise Refused(409, _("That notification has not failed."))
    return session.get(Notification, delivery)


@blp.route("/notifications/retry-failed", methods=["POST"])
@blp.arguments(RetryFailed)
@blp.response(202, RetriedOut)
@blp.doc(
    summary="Try every failed delivery again, of one channel and kind or all (admins of the "
    "whole tree); audited"
)
@commits
def retry_failed(data: dict[str, Any]) -> Any:
    ids = operations.retry_failed_all(
        db.session(),
        actor(),
        channel=data.get("channel"),
        kind=data.get("kind"),
        now=utcnow(),
        requeue_after=_requeue_after(),
    )
    return {"count": len(ids), "ids": ids}
