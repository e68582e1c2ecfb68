"""Single sign-on through a real OpenID Connect provider (tests/oidc, the `oidc-provider`
package on Node): the code flow with PKCE, state and nonce checked, the ID token verified
against the provider's keys. Cases: success (linking by verified e-mail, then by the linked
identity), wrong state, wrong nonce, an expired ID token, an unknown person (refused until an
admin links them), an unverified e-mail, the provider down; and signing out, which ends the
provider's session too (RP-initiated logout)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.admin.operations import link_sso_identity
from service.audit.models import AuditEntry
from service.auth.models import UserSession
from service.org.models import Role, User
from tests.conftest import csrf_token, login
from tests.oidc_provider import Provider, running_provider, sign_in_at_provider
from tests.signin_support import PASSWORD, a_person, browser
from tests.smtp import free_port

CALLBACK = "/login/sso/callback"


@pytest.fixture(scope="module")
def provider(app: Flask) -> Iterator[Provider]:
    with running_provider(app.config["PUBLIC_URL"].rstrip("/") + CALLBACK) as running:
        yield running


@pytest.fixture
def sso(app: Flask, provider: Provider) -> Iterator[Provider]:
    saved = {key: app.config.get(key) for key in provider.config()}
    app.config.update(provider.config())
    try:
        yield provider
    finally:
        app.config.update(saved)


def _to_provider(client: FlaskClient) -> str:
    started = client.get("/login/sso")
    assert started.status_code == 302, started.get_data(as_text=True)[:300]
    location = started.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["nonce"] and query["state"]
    return location


def _callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _through(client: FlaskClient, provider: Provider, login: str):  # type: ignore[no-untyped-def]
    back = sign_in_at_provider(_to_provider(client), login, provider.redirect_uri)
    return client.get(_callback_path(back))


def test_the_login_page_offers_single_sign_on(app: Flask, session: Session, sso: Provider) -> None:
    page = browser(app).get("/login?lang=en").get_data(as_text=True)
    assert "Sign in with ThaID (test)" in page


def test_a_first_sign_in_links_by_verified_email_then_by_identity(
    app: Flask, session: Session, sso: Provider
) -> None:
    person = a_person(session, Role.OFFICER)
    client = browser(app)
    done = _through(client, sso, person.email)
    assert done.status_code == 302, done.get_data(as_text=True)[:300]
    assert done.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    session.expire_all()
    assert person.sso_identity == person.email
    row = session.scalar(select(UserSession).where(UserSession.user_id == person.id))
    assert row is not None and row.method == "sso"
    # Roles stay Tidtam's: the officer is an officer, whatever the provider says.
    assert 'data-role="officer"' in client.get("/home").get_data(as_text=True)

    again = browser(app)
    assert _through(again, sso, person.email).status_code == 302
    assert again.get("/home").status_code == 200


def test_a_wrong_state_is_refused(app: Flask, session: Session, sso: Provider) -> None:
    person = a_person(session)
    client = browser(app)
    back = sign_in_at_provider(_to_provider(client), person.email, sso.redirect_uri)
    parts = urlsplit(back)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["state"] = "forged-" + query["state"]
    refused = client.get(f"{parts.path}?{urlencode(query)}&lang=en")
    assert refused.headers["Location"].endswith("/login")
    assert "Single sign-on did not succeed" in client.get("/login?lang=en").get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_a_wrong_nonce_is_refused(app: Flask, session: Session, sso: Provider) -> None:
    person = a_person(session)
    client = browser(app)
    back = sign_in_at_provider(_to_provider(client), person.email, sso.redirect_uri)
    with client.session_transaction() as cookie:
        key = next(k for k in cookie if k.startswith("_state_oidc_"))
        kept = cookie[key]
        kept["data"]["nonce"] = "not-the-nonce-sent"
        cookie[key] = kept
    refused = client.get(_callback_path(back))
    assert refused.headers["Location"].endswith("/login")
    assert client.get("/home").status_code == 302
    failures = session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_id == person.id, AuditEntry.action == "user.sign_in"
        )
    ).all()
    assert failures == []


def test_an_expired_id_token_is_refused(app: Flask, session: Session) -> None:
    """The provider makes ID tokens that live one second and answers the token request 1.5 s
    after making one: with no clock leeway, Tidtam receives it expired and refuses it."""
    person = a_person(session)
    callback = app.config["PUBLIC_URL"].rstrip("/") + CALLBACK
    with running_provider(callback, id_token_ttl=1, token_delay_ms=1500) as slow:
        saved = {key: app.config.get(key) for key in slow.config(OIDC_CLOCK_LEEWAY_SECONDS=0)}
        app.config.update(slow.config(OIDC_CLOCK_LEEWAY_SECONDS=0))
        try:
            client = browser(app)
            refused = _through(client, slow, person.email)
        finally:
            app.config.update(saved)
    assert refused.headers["Location"].endswith("/login")
    assert client.get("/home").status_code == 302
    failed = session.scalars(
        select(AuditEntry.changes).where(
            AuditEntry.object_id == person.id, AuditEntry.action == "user.sign_in_failed"
        )
    ).all()
    assert failed == []  # the token names nobody Tidtam may trust: nothing is said of anyone


def test_an_unknown_person_is_refused_until_an_admin_links_them(
    app: Flask, session: Session, sso: Provider
) -> None:
    person = a_person(session, Role.SCHOOL)  # their Tidtam e-mail differs from the provider's
    outside = "somchai.j@dopa.example"
    client = browser(app)
    refused = _through(client, sso, outside)
    assert refused.headers["Location"].endswith("/login")
    assert "ยังไม่มีบัญชีในระบบติดตามที่เชื่อมกับท่าน" in client.get("/login?lang=th").get_data(as_text=True)
    assert client.get("/home").status_code == 302

    admin = session.scalar(select(User).where(User.email == "admin@demo.tidtam.local"))
    assert admin is not None
    link_sso_identity(session, admin, person, outside)
    session.commit()
    assert _through(client, sso, outside).status_code == 302
    assert client.get("/home", follow_redirects=True).status_code == 200


def test_an_unverified_email_links_nobody(app: Flask, session: Session, sso: Provider) -> None:
    person = a_person(session)
    user = session.get(User, person.id)
    assert user is not None
    user.email = "unverified-" + user.email
    session.commit()
    client = browser(app)
    assert _through(client, sso, user.email).headers["Location"].endswith("/login")
    assert client.get("/home").status_code == 302


def test_the_provider_down(app: Flask, session: Session, sso: Provider) -> None:
    app.config["OIDC_ISSUER"] = f"http://127.0.0.1:{free_port()}"
    app.config["OIDC_TIMEOUT_SECONDS"] = 2
    try:
        client = browser(app)
        answer = client.get("/login/sso?lang=en")
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith("/login")
        assert "cannot be reached" in client.get("/login?lang=en").get_data(as_text=True)
    finally:
        app.config["OIDC_TIMEOUT_SECONDS"] = 10


def test_local_passwords_can_be_switched_off(app: Flask, session: Session, sso: Provider) -> None:
    app.config["OIDC_LOCAL_PASSWORDS"] = False
    try:
        client = browser(app)
        page = client.get("/login?lang=en").get_data(as_text=True)
        assert 'id="password"' not in page and "Sign in with ThaID (test)" in page
    finally:
        app.config["OIDC_LOCAL_PASSWORDS"] = True


def _at_provider(agent: requests.Session, url: str, back_to: str) -> str:
    """Follow the provider's redirects from `url` in `agent` (a browser holding the provider's
    cookies): the URL it sends the browser back to Tidtam with, or "login page" when it asks
    who the person is."""
    for _ in range(10):
        answer = agent.get(url, allow_redirects=False, timeout=5)
        if answer.status_code == 200 and "/interaction/" in answer.url:
            return "login page"
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
        url = urljoin(url, answer.headers["Location"])
        if url.startswith(back_to):
            return url
    raise AssertionError("the provider never answered")


def test_signing_out_after_single_sign_on_ends_the_providers_session_too(
    app: Flask, session: Session, sso: Provider
) -> None:
    person = a_person(session, Role.OFFICER)
    at_provider = requests.Session()  # the browser's cookies at the provider
    client = browser(app)
    assert _at_provider(at_provider, _to_provider(browser(app)), sso.redirect_uri) == "login page"
    sign_in_at_provider(_to_provider(browser(app)), person.email, sso.redirect_uri, at_provider)
    back = _at_provider(at_provider, _to_provider(client), sso.redirect_uri)
    assert back.startswith(sso.redirect_uri)  # the provider's session is open: no login page
    assert client.get(_callback_path(back)).status_code == 302
    assert client.get("/home").status_code == 200

    out = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert out.status_code == 302
    to_provider = out.headers["Location"]
    login_page = app.config["PUBLIC_URL"].rstrip("/") + "/login"
    query = parse_qs(urlsplit(to_provider).query)
    assert to_provider.startswith(sso.issuer)
    assert query["post_logout_redirect_uri"] == [login_page] and query["id_token_hint"]
    assert client.get("/home").status_code == 302  # signed out of Tidtam already

    # The provider asks to confirm (its own page), ends its session, and sends the browser back.
    confirm = at_provider.get(to_provider, timeout=5)
    assert confirm.status_code == 200, confirm.text[:300]
    form = re.search(r'<form[^>]*action="([^"]+)"', confirm.text)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
    assert form and xsrf, confirm.text[:500]
    done = at_provider.post(
        urljoin(to_provider, form.group(1)),
        data={"xsrf": xsrf.group(1), "logout": "yes"},
        allow_redirects=False,
        timeout=5,
    )
    assert done.status_code in (302, 303) and done.headers["Location"].startswith(login_page)
    # Single sign-on now asks who the person is again.
    assert _at_provider(at_provider, _to_provider(browser(app)), sso.redirect_uri) == "login page"


def test_signing_out_after_a_password_leaves_the_provider_alone(
    app: Flask, session: Session, sso: Provider
) -> None:
    person = a_person(session)
    client = browser(app)
    login(client, person.email, PASSWORD)
    out = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert out.headers["Location"].endswith("/login")
