"""Webhooks, managed (issue 15): endpoints made, changed, rotated, tested and withdrawn by
the admins of their unit through the pages and the API, each change audited; and failed
deliveries of any channel retried all at once, per channel and kind. That each event is POSTed
once per endpoint however many of the unit's people it tells, signed, with a stable delivery
id, is shown through a real worker in tests/test_line.py, beside the LINE group's message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.audit.operations import emit
from service.core.db import utcnow
from service.notifications.models import (
    Channel,
    DeliveryState,
    Notification,
    WebhookEndpoint,
)
from service.notifications.operations import relay_outbox
from service.org.models import Role, User
from service.org.operations import grant_role
from tests.api_support import headers_for
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.work_data import audited, school_result, unit

SCHOOL_UNIT = "5023077101"
OTHER_DISTRICT_ADMIN = "admin-elsewhere@test.tidtam.local"


def _teacher(session: Session) -> User:
    teacher = User(email="teacher2@test.tidtam.local", name="ครูสมชาย", password_hash="!")
    session.add(teacher)
    session.flush()
    grant_role(session, teacher, Role.SCHOOL, unit(session, SCHOOL_UNIT))
    return teacher


def _audits(session: Session, action: str) -> int:
    return audited(session, action)


def test_api_manages_a_units_endpoints_within_its_admins_scope(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)  # 127.0.0.1
    admin = headers_for(session, "admin")
    school_unit = unit(session, SCHOOL_UNIT)
    made = client.post(
        "/api/v1/webhooks",
        json={
            "unit_id": school_unit.id,
            "url": "http://127.0.0.1:9/hook",
            "name": "ห้องแชทโรงเรียน",
            "kinds": ["step_result.return"],
        },
        headers=admin,
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    secret, ident = body["secret"], body["id"]
    assert secret.startswith("whsec_") and len(secret) > 40
    shown = client.get(f"/api/v1/webhooks/{ident}", headers=admin).get_json()
    assert "secret" not in shown and shown["kinds"] == ["step_result.return"]
    listed = client.get("/api/v1/webhooks", headers=admin).get_json()
    assert [e["id"] for e in listed["items"]] == [ident]

    bad = client.post(
        "/api/v1/webhooks",
        json={"unit_id": school_unit.id, "url": "ftp://x", "kinds": ["no.such"]},
        headers=admin,
    )
    assert bad.status_code == 422

    rotated = client.post(f"/api/v1/webhooks/{ident}/rotate-secret", headers=admin).get_json()
    assert rotated["secret"] != secret
    stored = session.get(WebhookEndpoint, ident)
    assert stored is not None
    session.refresh(stored)
    assert stored.secret == rotated["secret"]
    patched = client.patch(
        f"/api/v1/webhooks/{ident}", json={"kinds": [], "name": "ทุกเรื่อง"}, headers=admin
    )
    assert patched.status_code == 200 and patched.get_json()["kinds"] == []
    test = client.post(f"/api/v1/webhooks/{ident}/test", headers=admin)
    assert test.status_code == 202 and test.get_json()["kind"] == "webhook.test"
    log = client.get(f"/api/v1/webhooks/{ident}/deliveries", headers=admin).get_json()
    assert [d["kind"] for d in log["items"]] == ["webhook.test"]

    # An admin of another district, an officer: the endpoint is not theirs (404, 403).
    elsewhere = User(email=OTHER_DISTRICT_ADMIN, name="แอดมินเขตอื่น", password_hash="!")
    session.add(elsewhere)
    session.flush()
    grant_role(session, elsewhere, Role.ADMIN, unit(session, "50230700"))
    session.flush()
    from service.api.auth import new_token

    _row, token = new_token(session, elsewhere, "t")
    session.flush()
    other = {"Authorization": f"Bearer {token}"}
    # 50230700 is the demo division: above the school, so this admin does manage it.
    assert client.get(f"/api/v1/webhooks/{ident}", headers=other).status_code == 200
    officer = headers_for(session, "officer")
    assert client.get(f"/api/v1/webhooks/{ident}", headers=officer).status_code == 404
    assert client.get("/api/v1/webhooks", headers=officer).get_json()["items"] == []
    refused = client.post(
        "/api/v1/webhooks",
        json={"unit_id": school_unit.id, "url": "http://127.0.0.1:9/x"},
        headers=officer,
    )
    assert refused.status_code == 403

    assert client.delete(f"/api/v1/webhooks/{ident}", headers=admin).status_code == 204
    assert client.post(f"/api/v1/webhooks/{ident}/test", headers=admin).status_code == 409
    for action in ("webhook.create", "webhook.rotate_secret", "webhook.update", "webhook.test"):
        assert _audits(session, action) == 1, action
    assert _audits(session, "webhook.withdraw") == 1
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/webhooks/{ident}/rotate-secret" in spec["paths"]
    assert "/api/v1/notifications/retry-failed" in spec["paths"]


def test_admin_pages_show_the_secret_once_and_the_log(  # type: ignore[no-untyped-def]
    app: Flask, session: Session, login_as, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)  # 127.0.0.1
    client = login_as("admin")
    token = csrf_token(client, "/admin/webhooks")
    school_unit = unit(session, SCHOOL_UNIT)
    made = client.post(
        "/admin/webhooks",
        data={
            "csrf_token": token,
            "unit_id": str(school_unit.id),
            "url": "http://127.0.0.1:9/hook",
            "name": "แชท",
            "kinds": ["step_result.return", "step_result.accept"],
        },
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    page = made.get_data(as_text=True)
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.secret in page
    assert endpoint.kinds == ["step_result.accept", "step_result.return"]
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert endpoint.secret not in listing and f'data-endpoint="{endpoint.id}"' in listing
    bad = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "unit_id": str(school_unit.id), "url": "not a url"},
    )
    assert bad.status_code == 422
    test = client.post(f"/admin/webhooks/{endpoint.id}/test", data={"csrf_token": token})
    assert test.status_code == 302
    detail = client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "test:webhook:" in detail
    # Thai by default, no English left on the page's own words.
    assert "ส่งทดสอบ" in detail and "Send a test" not in detail
    school = app.test_client()
    login(school, "school@demo.tidtam.local", DEMO_PASSWORDS["school@demo.tidtam.local"])
    assert school.get("/admin/webhooks").status_code == 403
    assert school.get(f"/admin/webhooks/{endpoint.id}").status_code == 404


def test_retry_all_failed_per_channel_and_kind_is_audited(
    session: Session, client: FlaskClient, login_as
) -> None:  # type: ignore[no-untyped-def]
    for kind in ("step_result.return", "step_result.accept"):
        emit(
            session,
            kind=kind,
            object_type="step_result",
            object_id=school_result(session).id,
            payload={},
        )
    session.flush()
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    session.execute(
        update(Notification)
        .where(Notification.channel == Channel.EMAIL)
        .values(state=DeliveryState.FAILED, attempts=5, last_error="SMTP down")
    )
    session.flush()
    admin = login_as("admin")
    page = admin.get("/admin/notifications/failed").get_data(as_text=True)
    assert "ลองส่งใหม่ทั้งหมด" in page
    token = csrf_token(admin, "/admin/notifications/failed")
    answer = admin.post(
        "/admin/notifications/retry-failed",
        data={"csrf_token": token, "channel": "email", "kind": "step_result.return"},
    )
    assert answer.status_code == 302
    states = dict(
        session.execute(
            select(Notification.kind, Notification.state).where(
                Notification.channel == Channel.EMAIL
            )
        ).all()
    )
    assert states == {
        "step_result.return": DeliveryState.PENDING,
        "step_result.accept": DeliveryState.FAILED,
    }
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "notification.retry_all")
    ).one()
    assert entry.changes["count"] == 1 and entry.changes["kind"] == "step_result.return"

    headers = headers_for(session, "admin")
    retried = client.post("/api/v1/notifications/retry-failed", json={}, headers=headers)
    assert retried.status_code == 202 and retried.get_json()["count"] == 1
    officer = headers_for(session, "officer")
    assert (
        client.post("/api/v1/notifications/retry-failed", json={}, headers=officer).status_code
        == 403
    )
    assert _audits(session, "notification.retry_all") == 2


def test_a_second_withdrawal_says_it_was_withdrawn_already(  # type: ignore[no-untyped-def]
    session: Session, login_as
) -> None:
    """From the endpoint's page left open in another tab, withdrawing it again flashed
    "The webhook is withdrawn" though nothing changed; the API answered 204 again."""
    client = login_as("admin")
    token = csrf_token(client, "/admin/webhooks")
    made = client.post(
        "/admin/webhooks",
        data={
            "csrf_token": token,
            "unit_id": str(unit(session, SCHOOL_UNIT).id),
            "url": "https://203.0.114.7/h",
            "name": "ห้องประชุม",
        },
    )
    assert made.status_code == 200
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    path = f"/admin/webhooks/{endpoint.id}/withdraw"
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    assert "ยกเลิกเว็บฮุกแล้ว" in client.get("/admin/webhooks").get_data(as_text=True)
    stale = client.post(path, data={"csrf_token": token})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "ถูกยกเลิกไปก่อนแล้ว" in page and "ห้องประชุม" in page
    assert "ยกเลิกเว็บฮุกแล้ว จะไม่ส่ง" not in page
    again = client.delete(
        f"/api/v1/webhooks/{endpoint.id}",
        headers={**headers_for(session, "admin"), "Accept-Language": "en"},
    )
    assert again.status_code == 409 and "already withdrawn" in again.get_data(as_text=True)
    assert _audits(session, "webhook.withdraw") == 1
