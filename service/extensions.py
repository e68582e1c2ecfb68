"""Extensions, unbound until `init_app`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from service.core.db import db
from service.core.translate import lazy_gettext as _l

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Storage from RATELIMIT_STORAGE_URI (Redis when REDIS_URL is set, memory:// otherwise); when
# Redis cannot be reached, each process counts in memory (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
limiter = Limiter(key_func=get_remote_address)
log = logging.getLogger("tidtam.limits")

__all__ = ["babel", "csrf", "db", "init_extensions", "limiter", "login_manager"]


class TrustedProxies:
    """The client address (request.remote_addr) as the last PROXY_FIX_X_FOR reverse proxies
    in front of the app saw it (Werkzeug's ProxyFix); with 0, the peer address, whatever
    X-Forwarded-For says. Read per request, so the setting is the app's config."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        hops = int(self.app.config.get("PROXY_FIX_X_FOR") or 0)
        if hops > 0:
            return ProxyFix(self.wsgi_app, x_for=hops)(environ, start_response)
        return self.wsgi_app(environ, start_response)


# Counts taken outside a decorated view (bad API tokens) when the storage cannot be reached.
_memory_limiter = FixedWindowRateLimiter(MemoryStorage())


def over_limit(limit: RateLimitItem, *key: str) -> float | None:
    """Seconds until `key` may try again when its count has reached `limit`, else None.
    The storage unreachable: counted in this process's memory, with a warning."""
    identifiers = _prefixed(key)
    try:
        return _over(limiter.limiter, limit, identifiers)
    except Exception as error:  # any storage error means "count here for now"
        log.warning("rate limit storage unreachable, counting in memory: %s", error)
        return _over(_memory_limiter, limit, identifiers)


def count(limit: RateLimitItem, *key: str) -> None:
    """Count one attempt of `key` against `limit` (see over_limit)."""
    identifiers = _prefixed(key)
    try:
        limiter.limiter.hit(limit, *identifiers)
    except Exception as error:
        log.warning("rate limit storage unreachable, counting in memory: %s", error)
        _memory_limiter.hit(limit, *identifiers)


def _prefixed(key: tuple[str, ...]) -> tuple[str, ...]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return (prefix, *key) if prefix else key


def _over(strategy: RateLimiter, limit: RateLimitItem, key: tuple[str, ...]) -> float | None:
    if strategy.test(limit, *key):
        return None
    stats = strategy.get_window_stats(limit, *key)
    return max(1.0, stats.reset_time - time.time())


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    app.wsgi_app = TrustedProxies(app)  # type: ignore[method-assign]
    login_manager.login_view = "auth.login"
    # Flask-Login's own English message otherwise lands on a Thai login page.
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.localize_callback = str
    # "basic", not "strong": "strong" ties a session to the browser's User-Agent and address,
    # so a browser update or a phone changing networks signs the person out, while a thief
    # copies the User-Agent with the cookie. Sessions end for real server-side instead: the
    # cookie carries the user's session version, and signing out bumps it (auth/views.py).
    login_manager.session_protection = "basic"
