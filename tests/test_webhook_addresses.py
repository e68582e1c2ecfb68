"""A webhook endpoint cannot reach the server's own network (server-side request forgery by an
admin's slip or a stolen admin session): a URL whose host is or resolves to a loopback,
private, link-local (the cloud metadata service), unspecified, multicast or reserved address is
refused when an endpoint is made or changed, through the page (with what was typed kept) and
the API; and a delivery to such an address (a name whose DNS changed since) is recorded failed
with the reason, nothing sent. WEBHOOK_ALLOW_PRIVATE_ADDRESSES (off by default) lifts it."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.db import utcnow
from service.notifications.dispatch import deliver
from service.notifications.mail import DeliveryError
from service.notifications.models import DeliveryState, Notification, WebhookEndpoint
from service.notifications.operations import DeliverySettings, send_webhook_test
from service.notifications.webhook import AddressRefused, address_problem, post
from tests.api_support import headers_for, user
from tests.conftest import csrf_token
from tests.http_sink import http_sink
from tests.work_data import audited, unit

SCHOOL_UNIT = "5023077101"

#: Hosts an endpoint may not name, and why (the host is an address or resolves to one).
LOCAL = {
    "127.0.0.1": "loopback",
    "localhost": "loopback",
    "127.1": "loopback",
    "[::1]": "loopback",
    "[::ffff:127.0.0.1]": "loopback",
    "169.254.169.254": "link-local",
    "[fe80::1]": "link-local",
    "10.0.0.5": "private",
    "172.16.8.1": "private",
    "192.168.1.10": "private",
    "[fd12:3456::1]": "private",
    "0.0.0.0": "unspecified",
    "[::]": "unspecified",
    "224.0.0.1": "multicast",
    "[ff02::1]": "multicast",
    "100.64.0.1": "not public",
}


def _endpoints(session: Session) -> int:
    return int(session.scalar(select(func.count(WebhookEndpoint.id))) or 0)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("8.8.8.8", None),
        ("203.0.114.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_addresses_are_judged(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_the_api_refuses_a_local_address_naming_the_field(
    client: FlaskClient, session: Session
) -> None:
    admin = headers_for(session, "admin")
    school_unit = unit(session, SCHOOL_UNIT)
    for host, problem in LOCAL.items():
        answer = client.post(
            "/api/v1/webhooks",
            json={"unit_id": school_unit.id, "url": f"http://{host}:8080/hook"},
            headers={**admin, "Accept-Language": "en"},
        )
        assert answer.status_code == 422, (host, answer.get_json())
        body = answer.get_json()
        assert answer.content_type.startswith("application/problem+json")
        assert body["detail"].startswith("Address: "), body
        assert "public internet addresses" in body["errors"]["url"], body
        assert problem.split()[0] in body["detail"] or problem == "not public", body
    assert _endpoints(session) == 0
    # In Thai (the default), naming the field as the form does.
    thai = client.post(
        "/api/v1/webhooks",
        json={"unit_id": school_unit.id, "url": "http://169.254.169.254/latest/meta-data/"},
        headers=admin,
    ).get_json()
    assert thai["detail"].startswith("ที่อยู่ปลายทาง: 169.254.169.254 เป็นที่อยู่ลิงก์โลคัล"), thai
    # A public address is made; changing it to a private one is refused, the old one kept.
    made = client.post(
        "/api/v1/webhooks",
        json={"unit_id": school_unit.id, "url": "https://203.0.114.7/hook"},
        headers=admin,
    )
    assert made.status_code == 201, made.get_json()
    ident = made.get_json()["id"]
    patched = client.patch(
        f"/api/v1/webhooks/{ident}", json={"url": "http://localhost:6379/"}, headers=admin
    )
    assert patched.status_code == 422 and "url" in patched.get_json()["errors"]
    shown = client.get(f"/api/v1/webhooks/{ident}", headers=admin).get_json()
    assert shown["url"] == "https://203.0.114.7/hook"
    assert audited(session, "webhook.update") == 0


def test_the_page_refuses_a_local_address_and_keeps_what_was_typed(  # type: ignore[no-untyped-def]
    session: Session, login_as
) -> None:
    client = login_as("admin")
    token = csrf_token(client, "/admin/webhooks")
    school_unit = unit(session, SCHOOL_UNIT)
    refused = client.post(
        "/admin/webhooks",
        data={
            "csrf_token": token,
            "unit_id": str(school_unit.id),
            "url": "http://169.254.169.254/latest/meta-data/",
            "name": "แชทห้องประชุม",
            "kinds": ["step_result.return"],
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'value="http://169.254.169.254/latest/meta-data/"' in page
    assert 'value="แชทห้องประชุม"' in page
    assert 'value="step_result.return" checked' in page
    assert 'id="url" aria-invalid="true"' in page
    assert "เป็นที่อยู่ลิงก์โลคัล" in page and "ที่อยู่สาธารณะ" in page
    assert _endpoints(session) == 0

    made = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "unit_id": str(school_unit.id), "url": "https://203.0.114.7/h"},
    )
    assert made.status_code == 200
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    changed = client.post(
        f"/admin/webhooks/{endpoint.id}",
        data={"csrf_token": token, "url": "http://10.0.0.5/h", "name": "ภายใน"},
    )
    assert changed.status_code == 422
    page = changed.get_data(as_text=True)
    assert 'value="http://10.0.0.5/h"' in page and 'value="ภายใน"' in page
    assert "ที่อยู่ในเครือข่ายภายใน" in page
    session.refresh(endpoint)
    assert endpoint.url == "https://203.0.114.7/h"


def test_a_delivery_to_a_local_address_is_recorded_failed_not_sent(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint stored before (or a name whose DNS now answers a loopback address): the
    delivery is checked again after resolving, and fails at once with the reason."""
    admin = user(session, "admin")
    with http_sink() as hooks, app.app_context():
        port = hooks.url.rsplit(":", 1)[1].split("/")[0]
        endpoint = WebhookEndpoint(
            unit_id=unit(session, SCHOOL_UNIT).id,
            url=f"http://localhost:{port}/hook",
            secret="s",
            name="",
        )
        session.add(endpoint)
        session.flush()
        test = send_webhook_test(
            session, admin, endpoint, now=utcnow(), requeue_after=timedelta(minutes=5)
        )
        session.flush()
        outcome = deliver(
            session,
            [test.id],
            settings=DeliverySettings(),
            held_until=utcnow() + timedelta(minutes=5),
        )
        assert outcome.failed == [test.id] and outcome.sent == []
        assert hooks.posts == []
        row = session.get(Notification, test.id)
        assert row is not None
        session.refresh(row)
        assert row.state is DeliveryState.FAILED
        assert "'localhost' resolves to 127.0.0.1" in row.last_error
        assert "not a public address (loopback)" in row.last_error

        # The same function posts to it when the deployment allows private addresses.
        with pytest.raises(AddressRefused):
            post(hooks.url, "s", {"a": 1}, "k", 5.0)
        assert hooks.posts == []
        post(hooks.url, "s", {"a": 1}, "k", 5.0, allow_private=True)
        assert len(hooks.posts) == 1

        monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)
        again = send_webhook_test(
            session, admin, endpoint, now=utcnow(), requeue_after=timedelta(minutes=5)
        )
        session.flush()
        outcome = deliver(
            session,
            [again.id],
            settings=DeliverySettings(),
            held_until=utcnow() + timedelta(minutes=5),
        )
        assert outcome.sent == [again.id]
        assert len(hooks.posts) == 2


def test_a_redirect_is_not_followed() -> None:
    """A receiver answering 302 (to the metadata service, or back to itself here) gets no
    second request: the redirect is the answer, a failed delivery."""
    with http_sink() as hooks:
        hooks.status = 302
        hooks.location = hooks.url.replace("/hook", "/latest/meta-data/")
        with pytest.raises(DeliveryError, match="HTTP 302"):
            post(hooks.url, "s", {"a": 1}, "k", 5.0, allow_private=True)
        assert len(hooks.posts) == 1 and hooks.gets == []


def test_an_address_too_long_is_refused_as_too_long(  # type: ignore[no-untyped-def]
    session: Session, login_as
) -> None:
    """An https address of 3,000 characters was refused as 'must be an http or https
    address', which it is: the page now says how long it may be."""
    client = login_as("admin")
    long_url = "https://example.org/" + "a" * 3000
    refused = client.post(
        "/admin/webhooks",
        data={
            "csrf_token": csrf_token(client, "/admin/webhooks"),
            "unit_id": str(unit(session, SCHOOL_UNIT).id),
            "url": long_url,
            "name": "ยาวเกิน",
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "ไม่เกิน 500 ตัวอักษร" in page and "ต้องเป็นที่อยู่ http หรือ https" not in page
    assert f'value="{long_url}"' in page and 'id="url" aria-invalid="true"' in page
    assert _endpoints(session) == 0


def test_an_address_with_a_password_in_it_is_refused(  # type: ignore[no-untyped-def]
    session: Session, login_as
) -> None:
    """https://user:password@host/ was kept and shown in clear in the webhooks list (and sent
    on every delivery): endpoints authenticate the signature, not a password in the address."""
    client = login_as("admin")
    token = csrf_token(client, "/admin/webhooks")
    for url in ("https://user:pw@example.org/h", "https://token@example.org/h"):
        refused = client.post(
            "/admin/webhooks",
            data={
                "csrf_token": token,
                "unit_id": str(unit(session, SCHOOL_UNIT).id),
                "url": url,
                "name": "มีรหัสผ่าน",
            },
        )
        assert refused.status_code == 422, url
        page = refused.get_data(as_text=True)
        assert "ชื่อผู้ใช้หรือรหัสผ่าน" in page and 'id="url" aria-invalid="true"' in page
        assert f'value="{url}"' in page
    assert _endpoints(session) == 0
