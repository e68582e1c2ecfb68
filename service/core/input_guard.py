"""What every request must get past before any view reads it.

- A request line (`GET /path?query HTTP/1.1`) longer than gunicorn reads is refused with a
  414, as `make web` refuses it (service.ops.web_worker), whatever server runs the app:
  `flask run`'s server reads up to 65,536 bytes, so it passed on what gunicorn refuses.
- Path ids: the app's `int` converter is bounded to the INTEGER column (1 … 2**31 − 1), so
  `/projects/99999999999` is a 404 like any other id that names nothing.
- Query strings, forms, upload names and path parts holding a NUL or a lone surrogate, and
  over-long query or form values, are refused with a 400 before a view or a query sees them.
- JSON bodies nested deeper than `MAX_JSON_DEPTH` (or deep enough to exhaust Python's
  recursion while parsing), or holding lone surrogates, are refused with a 400 (a NUL is
  the schema's to refuse: its 422 names the field).
- A value the database itself refuses as too long or out of range (`DataError`) is a 422.

Refusals are translated pages, and problem+json under /api/v1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.routing import IntegerConverter, Map

from service.core.fields import MAX_ID, storable
from service.core.translate import gettext

#: Bytes of the request line gunicorn reads (its `limit_request_line`, 4094 unless set; 0: no
#: limit). Under gunicorn the worker sets it to gunicorn's own (ProblemWorker.load_wsgi).
REQUEST_LINE_LIMIT = 4094
MAX_QUERY_VALUE = 2_000
MAX_FORM_VALUE = 60_000  # a project's rationale may hold 50,000 characters
MAX_JSON_DEPTH = 32
log = logging.getLogger("tidtam")


class IdConverter(IntegerConverter):
    """`<int:…>` bounded to what an INTEGER column holds: larger ids match no route (404)."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = 0,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def _refuse(detail: str, status: int = 400) -> Response:
    from service.api.errors import in_api, problem

    if in_api():
        return problem(status, detail)
    html = render_template("error.html", code=status, message=detail)
    return Response(html, status=status, mimetype="text/html")


def _bad_pairs(pairs: Iterable[tuple[str, Any]], limit: int) -> str | None:
    for key, value in pairs:
        text = value if isinstance(value, str) else ""
        if not storable(key) or not storable(text):
            return gettext("The request holds characters that cannot be stored (such as NUL).")
        if len(text) > limit:
            from service.core.labels import field_label

            # Named as its form names it: a page has many fields, and the reader must
            # find which one to shorten.
            return gettext(
                "%(field)s is longer than allowed (%(limit)s characters).",
                field=field_label(key),
                limit=f"{limit:,}",
            )
    return None


def _json_problem(value: Any) -> str | None:
    """Why a parsed JSON body is refused, or None; walked without recursion. A NUL is left
    to the schema's text fields, which name the field in their 422."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return gettext("The JSON body is nested too deeply.")
        if isinstance(item, str):
            if not storable(item.replace("\x00", "")):
                return gettext("The request holds characters that cannot be stored (such as NUL).")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not storable(key.replace("\x00", "")):
                    return gettext(
                        "The request holds characters that cannot be stored (such as NUL)."
                    )
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return None


def request_line_length(environ: dict[str, Any]) -> int:
    """Bytes of the request's line as it came (`GET /path?query HTTP/1.1`, without its CRLF),
    the length gunicorn measures; WSGI's strings hold one character a byte."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        query = environ.get("QUERY_STRING", "")
        target = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        target += f"?{query}" if query else ""
    method = environ.get("REQUEST_METHOD", "GET")
    return len(method) + 1 + len(target) + 1 + len(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))


def refuse_a_long_request_line() -> Response | None:
    """A 414 (a page, or problem+json under /api/v1, in the reader's language) for a request
    line longer than REQUEST_LINE_LIMIT; None to let the request through."""
    from flask import current_app

    limit = int(current_app.config.get("REQUEST_LINE_LIMIT", REQUEST_LINE_LIMIT))
    if limit <= 0 or request_line_length(request.environ) <= limit:
        return None
    return _refuse(
        gettext("The address is longer than the %(limit)s bytes this server reads.", limit=limit),
        414,
    )


def refuse_hostile_input() -> Response | None:
    """A 414 for a request line gunicorn would not read, a 400 for input no view should have
    to read; None to let the request through."""
    too_long = refuse_a_long_request_line()
    if too_long is not None:
        return too_long
    found = _bad_pairs(request.args.items(multi=True), MAX_QUERY_VALUE)
    if found is None and request.view_args:
        found = _bad_pairs(request.view_args.items(), MAX_QUERY_VALUE)
    if found is None and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            found = _bad_pairs(request.form.items(multi=True), MAX_FORM_VALUE)
            if found is None:
                names = ((key, upload.filename or "") for key, upload in request.files.items(True))
                found = _bad_pairs(names, MAX_QUERY_VALUE)
        elif request.is_json:
            try:
                body = request.get_json(silent=True)
            except RecursionError:
                found = gettext("The JSON body is nested too deeply.")
            else:
                found = _json_problem(body)
    return _refuse(found) if found is not None else None


def _data_error(error: DataError) -> Response:
    # The database refused a value no validation caught (too long for its column, out of
    # the column's range): the client's input, not a fault of the service.
    log.info("value refused by the database: %s", error.orig)
    from service.core.db import db

    db.session.rollback()
    return _refuse(gettext("A value is too long or out of range."), 422)


def install_converters(app: Flask) -> None:
    """Make `<int:…>` the bounded id converter; call before any route is added."""
    app.url_map.converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    install_converters(app)
    app.before_request(refuse_hostile_input)
    app.register_error_handler(DataError, _data_error)
