"""Single sign-on through an OpenID Connect provider (Thailand's digital ID through DGA,
Keycloak, AD FS...), with Authlib: the authorization code flow with PKCE (S256), the state
and nonce Authlib keeps in the session and checks, and the ID token verified against the
provider's keys (its JWKS) for issuer, audience, expiry and nonce.

On when OIDC_ISSUER is set. Who the person is comes from one claim, OIDC_IDENTITY_CLAIM
("email" by default; a citizen id claim such as "pid" where the provider gives one):
- a person already linked (`User.sso_identity`) is that account;
- with the "email" claim, a first sign-in links the account with that e-mail, provided the
  provider says the e-mail is verified;
- anyone else is refused until an admin links their account (service.admin.operations.
  link_sso_identity). Roles are never taken from the provider: they stay Tidtam's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.org.models import User

log = logging.getLogger("tidtam.auth")
_EXTENSION = "tidtam.oidc"


class ProviderUnreachable(Exception):
    """The identity provider did not answer (or answered nonsense) in time."""


class SignInRefused(Exception):
    """The provider's answer does not sign anyone in: `why` is a code for the audit/log."""

    def __init__(self, why: str, user: User | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.user = user


def enabled(app: Flask | None = None) -> bool:
    config = (app or current_app).config
    return bool(config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID"))


def local_passwords_allowed() -> bool:
    return not enabled() or bool(current_app.config.get("OIDC_LOCAL_PASSWORDS", True))


def _client() -> Any:
    """The Authlib client of the configured provider, made on first use (and again when the
    configuration changed: the tests point one app at providers of their own)."""
    config = current_app.config
    key = (config["OIDC_ISSUER"], config["OIDC_CLIENT_ID"], config["OIDC_CLIENT_SECRET"])
    made = current_app.extensions.get(_EXTENSION)
    if made is None or made[0] != key:
        oauth = OAuth(current_app)
        oauth.register(
            "oidc",
            client_id=config["OIDC_CLIENT_ID"],
            client_secret=config["OIDC_CLIENT_SECRET"],
            server_metadata_url=config["OIDC_ISSUER"] + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": config.get("OIDC_SCOPES", "openid email profile"),
                "code_challenge_method": "S256",
                "timeout": float(config.get("OIDC_TIMEOUT_SECONDS", 10)),
            },
        )
        made = (key, oauth.create_client("oidc"))
        current_app.extensions[_EXTENSION] = made
    return made[1]


def redirect_uri() -> str:
    """The callback as the provider knows it: PUBLIC_URL, not whatever Host a request named."""
    base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
    return base + url_for("auth.sso_callback")


def start() -> Any:
    """The redirect to the provider (state, nonce and PKCE verifier kept in the session).
    Raises ProviderUnreachable when its metadata cannot be read."""
    try:
        return _client().authorize_redirect(redirect_uri())
    except (requests.RequestException, ValueError, KeyError) as error:
        log.warning("identity provider unreachable: %s", error)
        raise ProviderUnreachable(str(error)) from error


@dataclass
class Identity:
    value: str
    verified_email: str | None
    claims: dict[str, Any]
    id_token: str = ""  # as the provider signed it: the hint its end_session_endpoint asks for


def finish() -> Identity:
    """Exchange the code, verify the ID token and read who it names. Raises
    ProviderUnreachable, or SignInRefused for a wrong state, nonce, signature, audience or
    an expired token, or an answer naming no one."""
    client = _client()
    leeway = int(current_app.config.get("OIDC_CLOCK_LEEWAY_SECONDS", 60))
    try:
        token = client.authorize_access_token(leeway=leeway)
    except requests.RequestException as error:
        log.warning("identity provider unreachable at the callback: %s", error)
        raise ProviderUnreachable(str(error)) from error
    except Exception as error:  # Authlib's and joserfc's refusals have no common base
        log.warning("single sign-on refused: %s: %s", type(error).__name__, error)
        raise SignInRefused(_reason(error)) from error
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    if not claims:
        raise SignInRefused("no_id_token")
    claim = current_app.config.get("OIDC_IDENTITY_CLAIM", "email")
    if claim not in claims or (claim == "email" and "email_verified" not in claims):
        try:  # some providers put only `sub` in the ID token
            claims = {**client.userinfo(token=token), **claims}
        except requests.RequestException as error:
            raise ProviderUnreachable(str(error)) from error
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise SignInRefused("no_identity_claim")
    email = claims.get("email")
    verified = (
        email.strip().lower()
        if isinstance(email, str) and claims.get("email_verified") is True
        else None
    )
    if claim == "email":
        if verified is None:
            raise SignInRefused("email_not_verified")
        value = verified
    return Identity(value.strip(), verified, claims, str(token.get("id_token") or ""))


def end_session_url(id_token: str) -> str | None:
    """Where to send a browser signing out of Tidtam so that the provider ends its session
    too (OpenID Connect RP-Initiated Logout 1.0), coming back to the login page; None when
    the provider names no end_session_endpoint or cannot be asked (the person is signed out
    of Tidtam all the same)."""
    try:
        metadata = _client().load_server_metadata()
    except (requests.RequestException, ValueError, KeyError) as error:
        log.warning("identity provider unreachable at sign-out: %s", error)
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return None
    base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
    params = {
        "client_id": current_app.config["OIDC_CLIENT_ID"],
        "post_logout_redirect_uri": base + url_for("auth.login"),
    }
    if id_token:
        params["id_token_hint"] = id_token
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def _reason(error: Exception) -> str:
    name = type(error).__name__
    text = str(error).lower()
    if "state" in name.lower() or "state" in text:
        return "state"
    if "nonce" in text:
        return "nonce"
    if "expired" in name.lower() or "expired" in text or '"exp"' in text:
        return "expired"
    return name


def account_for(session: Session, identity: Identity) -> User:
    """The Tidtam account `identity` signs in as, linking it on a first sign-in by verified
    e-mail (recorded). Raises SignInRefused("unknown") when no account is linked or
    linkable, ("deactivated") for a deactivated one."""
    user = session.scalar(select(User).where(User.sso_identity == identity.value))
    if user is None and current_app.config.get("OIDC_IDENTITY_CLAIM", "email") == "email":
        user = session.scalar(select(User).where(func.lower(User.email) == identity.verified_email))
        if user is not None and user.sso_identity is None:
            user.sso_identity = identity.value
            session.flush()
            record(
                session,
                action="user.sso_link",
                object_type="user",
                object_id=user.id,
                actor=user,
                changes={"sso_identity": [None, identity.value], "by": "verified_email"},
            )
        elif user is not None:
            user = None  # linked to another identity already: an admin decides
    if user is None:
        raise SignInRefused("unknown")
    if not user.active:
        raise SignInRefused("deactivated", user)
    return user
