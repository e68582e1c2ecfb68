"""Configuration from the environment.

No configuration at all is the embedded default: SQLite in `instance/` for the data and for
Celery's broker (kombu's SQLAlchemy transport), so one command runs Tidtam on a laptop.
`DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from service.core.queues import reliability_settings

PRODUCTION = "production"


class ConfigError(RuntimeError):
    """The environment asks for something that cannot run safely."""


def _normalise_database_url(url: str) -> str:
    # psycopg 3 is the driver; accept the URLs people paste from their hosting panel.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(instance: Path, env: dict[str, str], production: bool) -> str:
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"]
    if production:
        raise ConfigError("SECRET_KEY must be set in production (TIDTAM_ENV=production)")
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _language(code: str) -> str:
    if code not in ("th", "en"):
        raise ConfigError(f"BABEL_DEFAULT_LOCALE must be th or en, not {code!r}")
    return code


def load_config(instance_path: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config from `env` (default: os.environ).

    Raises ConfigError when production mode lacks a secret key or a real database.
    """
    env = dict(os.environ if env is None else env)
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    production = env.get("TIDTAM_ENV", "development") == PRODUCTION
    database_url = _normalise_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{instance / 'tidtam.sqlite'}"
    )
    redis_url = env.get("REDIS_URL", "")
    if production and database_url.startswith("sqlite"):
        raise ConfigError("production mode needs DATABASE_URL (PostgreSQL)")
    broker_url = (
        env.get("CELERY_BROKER_URL")
        or redis_url
        or (f"sqla+sqlite:///{instance / 'broker.sqlite'}")
    )
    result_backend = (
        env.get("CELERY_RESULT_BACKEND")
        or redis_url
        or (f"db+sqlite:///{instance / 'results.sqlite'}")
    )
    celery: dict[str, Any] = {
        "broker_url": broker_url,
        "result_backend": result_backend,
        "task_ignore_result": True,
        "timezone": env.get("TIMEZONE", "Asia/Bangkok"),
        "enable_utc": True,
        "broker_connection_retry_on_startup": True,
    }
    if env.get("CELERY_KEY_PREFIX"):
        # Lets two deployments (or two test runs) share one Redis without meeting.
        prefix = env["CELERY_KEY_PREFIX"]
        celery["broker_transport_options"] = {"global_keyprefix": prefix}
        celery["result_backend_transport_options"] = {"global_keyprefix": prefix}
    celery.update(reliability_settings(celery))
    return {
        "TIDTAM_ENV": env.get("TIDTAM_ENV", "development"),
        "SECRET_KEY": _secret_key(instance, env, production),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # PostgreSQL only (service.core.db.postgres_options). `make web` sets a 25 s statement
        # timeout (under gunicorn's 30 s) and no parallel workers per query; workers keep both.
        "DATABASE_STATEMENT_TIMEOUT_MS": int(env.get("DATABASE_STATEMENT_TIMEOUT_MS", "0")),
        "DATABASE_PARALLEL_WORKERS": (
            int(env["DATABASE_PARALLEL_WORKERS"]) if env.get("DATABASE_PARALLEL_WORKERS") else None
        ),
        # PostgreSQL reached through PgBouncer in transaction pooling mode: no prepared
        # statements, no startup options (service.core.db.make_engine).
        "DATABASE_PGBOUNCER": env.get("DATABASE_PGBOUNCER", "") in ("1", "true", "yes"),
        "TIMEZONE": env.get("TIMEZONE", "Asia/Bangkok"),
        # Flask-Babel's setting: the language of whoever has not chosen one (pages for a
        # visitor, the command line without --lang).
        "BABEL_DEFAULT_LOCALE": _language(env.get("BABEL_DEFAULT_LOCALE", "th")),
        "UPLOAD_FOLDER": env.get("UPLOAD_FOLDER", str(instance / "uploads")),
        "MAIL_SERVER": env.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "1025")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "false").lower() == "true",
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "tidtam@localhost"),
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://localhost:5000"),
        # Notification delivery: how long a sending worker / a queued dispatch task owns a row
        # before someone else may take it over, and how often a delivery is tried.
        "NOTIFICATION_SEND_LEASE_SECONDS": int(env.get("NOTIFICATION_SEND_LEASE_SECONDS", "120")),
        "NOTIFICATION_REQUEUE_SECONDS": int(env.get("NOTIFICATION_REQUEUE_SECONDS", "600")),
        "NOTIFICATION_MAX_ATTEMPTS": int(env.get("NOTIFICATION_MAX_ATTEMPTS", "5")),
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT", "20")),
        # LINE Messaging API (an Official Account's channel): without a token nothing is sent
        # to LINE and the LINE pages say it is not set up; the secret checks /line/webhook.
        "LINE_CHANNEL_ACCESS_TOKEN": env.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        "LINE_CHANNEL_SECRET": env.get("LINE_CHANNEL_SECRET", ""),
        "LINE_API_BASE_URL": env.get("LINE_API_BASE_URL", "https://api.line.me"),
        "LINE_ADD_FRIEND_URL": env.get("LINE_ADD_FRIEND_URL", ""),
        "LINE_TIMEOUT": float(env.get("LINE_TIMEOUT", "10")),
        # Webhook endpoints may be on a loopback, private or link-local address (off: such an
        # address is refused when an endpoint is made or changed and when a delivery is sent,
        # so an admin's endpoint cannot reach the server's own network or a cloud's metadata
        # service). On only for a chat tool on the deployment's own network, and in tests.
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": _flag(
            env.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"), default=False
        ),
        # Sub-score labels of an evaluation, as the legacy page prints them.
        "EVALUATION_SUBSCORE_LABELS": tuple(
            env.get("EVALUATION_SUBSCORE_LABELS", "2.1,2.2").split(",", 1)
        ),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "MAX_CONTENT_LENGTH": int(env.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down: count in each process's memory (a logged warning) rather than refuse
        # every sign-in, and go back to Redis when it answers again.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": (
            {"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {}
        ),
        "RATELIMIT_KEY_PREFIX": env.get("CELERY_KEY_PREFIX", ""),
        # Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none, the
        # client is the peer address; a header anyone can send never names the client).
        "PROXY_FIX_X_FOR": int(env.get("PROXY_FIX_X_FOR", "0")),
        # Sign-in (service/auth/): passwords, the second factor and single sign-on.
        "PASSWORD_MIN_LENGTH": int(env.get("PASSWORD_MIN_LENGTH", "10")),
        "PASSWORD_RESET_MAX_AGE_MINUTES": int(env.get("PASSWORD_RESET_MAX_AGE_MINUTES", "30")),
        # Approvers and admins must give a TOTP code (enrolling at their next sign-in); the
        # default in production, off elsewhere (the demo's people sign in with a password).
        "TWO_FACTOR_REQUIRED": _flag(env.get("TWO_FACTOR_REQUIRED"), default=production),
        "TWO_FACTOR_REMEMBER_DAYS": int(env.get("TWO_FACTOR_REMEMBER_DAYS", "30")),
        # OpenID Connect single sign-on: on when OIDC_ISSUER is set.
        "OIDC_ISSUER": env.get("OIDC_ISSUER", "").rstrip("/"),
        "OIDC_CLIENT_ID": env.get("OIDC_CLIENT_ID", ""),
        "OIDC_CLIENT_SECRET": env.get("OIDC_CLIENT_SECRET", ""),
        "OIDC_PROVIDER_NAME": env.get("OIDC_PROVIDER_NAME", ""),
        "OIDC_SCOPES": env.get("OIDC_SCOPES", "openid email profile"),
        "OIDC_IDENTITY_CLAIM": env.get("OIDC_IDENTITY_CLAIM", "email"),
        "OIDC_LOCAL_PASSWORDS": _flag(env.get("OIDC_LOCAL_PASSWORDS"), default=True),
        "OIDC_CLOCK_LEEWAY_SECONDS": int(env.get("OIDC_CLOCK_LEEWAY_SECONDS", "60")),
        "OIDC_TIMEOUT_SECONDS": float(env.get("OIDC_TIMEOUT_SECONDS", "10")),
        "CELERY": celery,
    }


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")
