"""Login is rate limited: 10 failed attempts a minute per account and 30 per client address,
then 429; bad API tokens are limited per address. The client address is the peer's, or what
the configured number of trusted proxies says (PROXY_FIX_X_FOR)."""

from __future__ import annotations

import random
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits import parse

from service.api.auth import BAD_TOKEN_LIMIT
from service.auth.views import ADDRESS_LIMIT
from tests.conftest import csrf_token, login
from tests.work_data import in_app_context  # noqa: F401

ADDRESS_ATTEMPTS = parse(ADDRESS_LIMIT).amount


def test_the_eleventh_failed_login_in_a_minute_is_refused(client: FlaskClient) -> None:
    email = f"guess-{uuid.uuid4().hex[:8]}@demo.tidtam.local"  # a key no other run shares
    token = csrf_token(client, "/login?lang=en")
    for _attempt in range(10):
        response = client.post(
            "/login", data={"email": email, "password": "wrong-password", "csrf_token": token}
        )
        assert response.status_code == 200  # the form again, "wrong email or password"
    response = client.post(
        "/login", data={"email": email, "password": "wrong-password", "csrf_token": token}
    )
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    # Another account from the same address is not locked out, and succeeding never counts.
    login(client, "school@demo.tidtam.local", "demo-school-2566")


def _address() -> str:
    """A client address no other test (or run sharing this Redis) counts against."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def _failed_login(client: FlaskClient, email: str, token: str, **environ: str) -> int:
    response = client.post(
        "/login",
        data={"email": email, "password": "wrong-password", "csrf_token": token},
        environ_overrides=environ,
    )
    return response.status_code


def test_guessing_across_accounts_from_one_address_is_limited(client: FlaskClient) -> None:
    """Each of 15 accounts stays under its own limit; the address as a whole does not."""
    address = _address()
    token = csrf_token(client, "/login?lang=en")
    emails = [f"spray-{uuid.uuid4().hex[:8]}-{n}@demo.tidtam.local" for n in range(15)]
    statuses = [
        _failed_login(client, email, token, REMOTE_ADDR=address)
        for _round in range(3)
        for email in emails
    ]
    assert statuses[:ADDRESS_ATTEMPTS] == [200] * ADDRESS_ATTEMPTS
    assert set(statuses[ADDRESS_ATTEMPTS:]) == {429}
    # The right password from that address waits too; from another address it works.
    response = client.post(
        "/login",
        data={
            "email": "school@demo.tidtam.local",
            "password": "demo-school-2566",
            "csrf_token": token,
        },
        environ_overrides={"REMOTE_ADDR": address},
    )
    assert response.status_code == 429
    assert _failed_login(client, emails[0], token, REMOTE_ADDR=_address()) == 200


def test_a_forged_forwarded_for_does_not_escape_the_limit(client: FlaskClient) -> None:
    """No proxy is trusted by default (PROXY_FIX_X_FOR=0): X-Forwarded-For is ignored."""
    address = _address()
    token = csrf_token(client, "/login?lang=en")
    statuses = []
    for attempt in range(ADDRESS_ATTEMPTS + 1):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = _address()  # a new "client" each time
        email = f"forged-{uuid.uuid4().hex[:8]}-{attempt}@demo.tidtam.local"
        statuses.append(_failed_login(client, email, token, REMOTE_ADDR=address))
    assert statuses[-1] == 429, statuses


def test_behind_one_trusted_proxy_the_forwarded_address_is_counted(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PROXY_FIX_X_FOR", 1)
    proxy, attacker, neighbour = _address(), _address(), _address()
    token = csrf_token(client, "/login?lang=en")

    def attempt(client_address: str) -> int:
        email = f"proxied-{uuid.uuid4().hex[:8]}@demo.tidtam.local"
        client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        return _failed_login(client, email, token, REMOTE_ADDR=proxy)

    statuses = [attempt(attacker) for _ in range(ADDRESS_ATTEMPTS + 1)]
    assert statuses[-1] == 429, statuses
    # Another client behind the same proxy has a count of its own.
    assert attempt(neighbour) == 200
    # Only the last hop is trusted: what the client itself prepends changes nothing.
    assert attempt(f"{_address()}, {attacker}") == 429


def test_bad_api_tokens_are_limited_per_address(client: FlaskClient) -> None:
    address = _address()
    environ = {"REMOTE_ADDR": address}
    for attempt in range(BAD_TOKEN_LIMIT.amount):
        response = client.get(
            "/api/v1/me",
            headers={"Authorization": f"Bearer tdt_guess{attempt}"},
            environ_overrides=environ,
        )
        assert response.status_code == 401
    response = client.get(
        "/api/v1/me", headers={"Authorization": "Bearer tdt_guess"}, environ_overrides=environ
    )
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # Another address is still answered as before.
    response = client.get(
        "/api/v1/me",
        headers={"Authorization": "Bearer tdt_guess"},
        environ_overrides={"REMOTE_ADDR": _address()},
    )
    assert response.status_code == 401
