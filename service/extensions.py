"""Extensions, unbound until `init_app`."""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from service.core.db import db

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Storage from RATELIMIT_STORAGE_URI (Redis when REDIS_URL is set, memory:// otherwise).
limiter = Limiter(key_func=get_remote_address)

__all__ = ["babel", "csrf", "db", "init_extensions", "limiter", "login_manager"]


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    login_manager.login_view = "auth.login"
    # "basic", not "strong": "strong" ties a session to the browser's User-Agent and address,
    # so a browser update or a phone changing networks signs the person out, while a thief
    # copies the User-Agent with the cookie. Sessions end for real server-side instead: the
    # cookie carries the user's session version, and signing out bumps it (auth/views.py).
    login_manager.session_protection = "basic"
