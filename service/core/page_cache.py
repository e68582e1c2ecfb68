"""Page parts kept between requests until the data under them changes.

The dashboard's listing and the project page's body take tens of milliseconds of queries and
rendering at 100,000 projects, and are asked for far more often than the data under them
changes. Each is rendered once and kept (in Redis when REDIS_URL is set, else in each
process) under a key naming everything it depends on:

- the data stamp (service.core.data_stamp), read before anything the part shows: any commit
  that writes what pages show gives it a new value, so nothing stale is ever found again;
- this release of the code, templates and translations (a deploy renders afresh);
- the reader (their roles and scope decide what they see and may do), the view's own
  arguments, the language and the Bangkok day (plans are measured against today).

A part's forms carry a placeholder for the CSRF token, replaced with the reader's own token on
every request. The layout around the part (menu, name, flashed messages) is never kept. A
cache that cannot be reached is logged and skipped: the page is rendered as if nothing were
kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_caching import Cache
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from service.core import data_stamp

cache = Cache()
log = logging.getLogger("tidtam.page_cache")

CSRF_PLACEHOLDER = "__tidtam_csrf_token__"
_STAMP = "tidtam_data_stamp"
_RENDERING = "tidtam_rendering_kept_part"

F = TypeVar("F", bound=Callable[..., Any])


def reads_stamp(view: F) -> F:
    """Read the data stamp first thing in a GET request to `view` (above login_required, so
    before the reader, their roles or anything the part shows is loaded)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.pop(_STAMP, None)
        if request.method == "GET" and current_app.config.get("PAGE_CACHE"):
            _read_stamp()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _read_stamp() -> None:
    """The stamp of this request, in g: as the API's token check read it in the same
    statement, or read now (None when this request wrote and has not committed)."""
    from service.extensions import db

    with_token = g.pop("tidtam_data_stamp_read", None)
    g.tidtam_data_stamp = data_stamp.read(db.session(), already=with_token)


def kept(
    name: str, parts: Iterable[Any], render: Callable[[], dict[str, Markup] | None]
) -> dict[str, Markup] | None:
    """The part `name` for `parts` (the reader, the view's arguments): the HTML `render`
    returns (a body, a title; None for "nothing to show", kept too), rendered unless kept
    from an earlier request at the same stamp. `render` returns Markup, so what is kept was
    escaped (by a template, or by `escape`) before it was kept; what comes back is that."""
    key = _key(name, parts)
    found: Mapping[str, str] | None
    if key is None:
        found = render()
    else:
        hit, found = _get(key)
        if not hit:
            g.tidtam_rendering_kept_part = True
            try:
                found = render()
            finally:
                g.pop(_RENDERING, None)
            _set(key, found)
    if found is None:
        return None
    return {field: Markup(_with_csrf_token(text)) for field, text in found.items()}


def kept_response(name: str) -> Callable[[F], F]:
    """Keep the whole answer of a GET view of the API (its JSON lists) the same way, per
    caller (g.api_user, set by the API's authentication) and query string. Place it between
    `@blp.route` and the view's other decorators: it keeps what they make of the view."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            caller = g.get("api_user")
            if request.method != "GET" or caller is None or not current_app.config["PAGE_CACHE"]:
                return view(*args, **kwargs)
            _read_stamp()
            query = sorted(request.args.items(multi=True))
            key = _key(name, (caller.id, *query))
            hit, found = _get(key) if key else (False, None)
            if hit and found:
                return Response(
                    found["body"], status=int(found["status"]), mimetype=found["mimetype"]
                )
            response: Response = current_app.make_response(view(*args, **kwargs))
            if key and response.status_code == 200 and not response.is_streamed:
                _set(
                    key,
                    {
                        "body": response.get_data(as_text=True),
                        "status": str(response.status_code),
                        "mimetype": response.mimetype or "application/json",
                    },
                )
            return response

        return wrapper  # type: ignore[return-value]

    return decorate


def _key(name: str, parts: Iterable[Any]) -> str | None:
    """Where part `name` for `parts` is kept at this request's stamp; None when there is no
    stamp (caching off, or this request wrote and has not committed)."""
    from service.core.fiscal import local_today
    from service.core.web import current_language

    stamp = g.get(_STAMP)
    if stamp is None:
        return None
    identity = repr((_release(), stamp, current_language(), local_today(), tuple(parts)))
    return f"{name}:{hashlib.sha256(identity.encode()).hexdigest()[:40]}"


def _with_csrf_token(html: str) -> str:
    if CSRF_PLACEHOLDER in html:
        return html.replace(CSRF_PLACEHOLDER, generate_csrf())
    return html


def _get(key: str) -> tuple[bool, dict[str, str] | None]:
    """(found, the kept strings); a kept None is stored as an empty dict."""
    try:
        packed = cache.get(key)
    except Exception:  # the cache is an optimisation: an outage costs speed, not pages
        log.warning("page cache unreachable; rendering afresh", exc_info=True)
        return False, None
    if not isinstance(packed, bytes):
        return False, None
    found: dict[str, str] = json.loads(zlib.decompress(packed))
    return True, found or None


def _set(key: str, strings: Mapping[str, str] | None) -> None:
    """Keep `strings` compressed: a project page's 60 KB of HTML is a tenth of that in
    Redis, which holds every kept part until it expires (PAGE_CACHE_SECONDS)."""
    packed = zlib.compress(json.dumps(dict(strings or {}), ensure_ascii=False).encode(), 1)
    try:
        cache.set(key, packed)
    except Exception:
        log.warning("page cache unreachable; part not kept", exc_info=True)


def _csrf_token() -> str:
    """The template's csrf_token(): a placeholder inside a part being kept."""
    return CSRF_PLACEHOLDER if g.get(_RENDERING) else str(generate_csrf())


@functools.cache
def _release() -> str:
    """A digest of the code, templates and translations this process serves."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for folder, pattern in (("service", "*.py"), ("service", "*.mo"), ("templates", "*.html")):
        for path in sorted((root / folder).rglob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def init_app(app: Flask) -> None:
    cache.init_app(app)
    app.jinja_env.globals["csrf_token"] = _csrf_token
    if app.config.get("PAGE_CACHE"):
        _release()
