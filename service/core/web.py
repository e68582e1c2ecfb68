"""Request-wide behaviour: language, template filters, security headers and error pages."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, render_template, request, session
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from service.core import translate
from service.extensions import babel

LANGUAGES = ("th", "en")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def select_locale() -> str:
    """?lang=, then the session's choice, then the user's language, then the deployment's
    (BABEL_DEFAULT_LOCALE, Thai unless set).

    Under /api/v1 an Accept-Language header naming a language we speak comes before the
    session and the user (a script asks per request, as Flask-Babel's selector examples
    do); a token's user counts as the user. Pages ignore the header: a browser sends its
    own language with every request, and a Thai office's browsers often say English.
    """
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    api = request.path == "/api/v1" or request.path.startswith("/api/v1/")
    if api and request.headers.get("Accept-Language"):
        asked = request.accept_languages.best_match(LANGUAGES)
        if asked:
            return asked
    if session.get("lang") in LANGUAGES:
        return str(session["lang"])
    api_user = g.get("api_user")
    if api_user is not None:
        return str(api_user.language)
    if current_user and current_user.is_authenticated:
        return str(current_user.language)
    return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "th"))


def forget_language() -> None:
    """Choose the language again at its next use: the caller has just learnt who is asking
    (an API token is read after the hostile-input guard may have spoken)."""
    g.pop("lang", None)


def current_language() -> str:
    if "lang" not in g:
        g.lang = select_locale()
    return str(g.lang)


#: What anyone may read, and any cache may keep: the public pages and the static files.
#: Everything else (the signed-in pages, the API, the health details) is stored nowhere.
STORABLE_BLUEPRINTS = frozenset({"public"})
STORABLE_ENDPOINTS = frozenset({"static"})


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def storable(endpoint: str | None, blueprint: str | None) -> bool:
    """Whether a browser or a shared cache may store the answer of `endpoint`."""
    return endpoint in STORABLE_ENDPOINTS or blueprint in STORABLE_BLUEPRINTS


def _security_headers(response: Response) -> Response:
    if not storable(request.endpoint, request.blueprint):
        # A private page or answer must not be kept by the browser (back button after
        # signing out, a shared computer) nor by any proxy on the way.
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    return response


#: Set on the answer to a form refused by the CSRF check (its page's token is of an earlier
#: session): a page's script tells it from any other 400 by this header, fetches a fresh
#: token (auth.csrf_token_view) and sends once more (static/js/upload.js).
CSRF_REFUSED_HEADER = "X-CSRF-Refused"


def _error_page(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    code = error.code or 500
    headers = {CSRF_REFUSED_HEADER: "1"} if isinstance(error, CSRFError) else {}
    return render_template("error.html", code=code), code, headers


def _server_error(error: Exception) -> tuple[str, int]:
    if type(getattr(error, "orig", None)).__name__ == "QueryCanceled":
        # DATABASE_STATEMENT_TIMEOUT_MS ran out: busy, not broken; the reader may try again.
        logging.getLogger("tidtam").warning("statement cancelled: %s", request.path)
        return render_template("error.html", code=503), 503
    logging.getLogger("tidtam").exception("unhandled error", exc_info=error)
    return render_template("error.html", code=500), 500


def _be_date(value: date | datetime | None, style: str = "short") -> str:
    from service.core.fiscal import local_date
    from service.core.thai import format_date

    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local_date(value)
    return format_date(value, current_language(), style)  # type: ignore[arg-type]


def _be_input(value: Any) -> str:
    """A date for a text input: the stored day (a date or ISO text) as Buddhist Era d/m/yyyy
    ("30/12/2565"); what the person typed (a refused value shown back) as typed; else blank."""
    from service.core.fields import read_day

    if isinstance(value, str):
        try:
            value = read_day(value, typed=False)
        except ValidationError:
            return value
    if not isinstance(value, date):
        return ""
    return f"{value.day}/{value.month}/{value.year + 543}"


def _baht(value: Decimal | None) -> str:
    from service.core.thai import format_baht

    return "" if value is None else format_baht(value)


def _baht_words(value: Decimal | None) -> str:
    """An amount in words in the reader's language (Thai: as on cheques, BAHTTEXT)."""
    from service.core.thai import baht_in_english, bahttext

    if value is None:
        return ""
    return bahttext(value) if current_language() == "th" else baht_in_english(value)


def _percent(value: Decimal | None) -> str:
    from service.core.thai import format_percent

    return "" if value is None else format_percent(value)


def _thai_digits(value: str) -> str:
    from service.core.thai import to_thai_digits

    return to_thai_digits(value) if current_language() == "th" else value


def _template_globals() -> dict[str, Any]:
    return {"lang": current_language(), "languages": LANGUAGES}


def init_app(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    logging.getLogger("tidtam").setLevel(logging.INFO)
    babel.init_app(app, locale_selector=current_language, timezone_selector=lambda: "UTC")
    translate.init_app(app)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(Exception, _server_error)
    app.context_processor(_template_globals)
    app.add_template_filter(_be_date, "be_date")
    app.add_template_filter(_be_input, "be_input")
    app.add_template_filter(_baht, "baht")
    app.add_template_filter(_baht_words, "baht_words")
    app.add_template_filter(_percent, "percent")
    app.add_template_filter(_thai_digits, "thai_digits")
