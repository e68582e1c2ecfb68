"""Every error of the API as `application/problem+json` (RFC 9457).

    {"type": "about:blank", "title": "Conflict", "status": 409,
     "detail": "allocation 7 is approved: cannot approve", "state": "approved",
     "errors": {"amount": "must be more than 0"}}

`detail` says why in words, `errors` names bad input field by field, `state` is the object's
current state when a transition was refused. The web pages keep their HTML error pages: the
handlers below answer in problem+json only for paths under /api/v1 and hand everything else
to the handler the app had before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json, request
from flask_babel.speaklater import LazyString
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from service.api.auth import Unauthorized
from service.core import translate
from service.core.fields import N_, translated_message
from service.core.labels import field_label
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.org.operations import OrgError
from service.workflow.engine import Refused

PROBLEM = "application/problem+json"
PREFIX = "/api/v1"
log = logging.getLogger("tidtam.api")


#: The HTTP phrases that title the problems the API gives, marked for the catalog: a title
#: is the status' phrase in the reader's language (RFC 9457 lets a title be localised).
TITLED = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Conflict"),
    N_("Precondition Failed"),
    N_("Request Entity Too Large"),
    N_("Unsupported Media Type"),
    N_("Request-URI Too Long"),  # "URI Too Long" from Python 3.13
    N_("URI Too Long"),
    N_("Unprocessable Entity"),
    N_("Precondition Required"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
)

#: What the service says for an HTTP error raised without words of its own (an unknown
#: address, a method the route does not take): Werkzeug's descriptions are English only.
DESCRIPTIONS: dict[int, LazyString] = {
    400: _l("The request could not be read."),
    404: _l("Nothing is found at this address."),
    405: _l("This address does not take this method."),
    413: _l("The request is larger than allowed."),
    415: _l("The body is of a type this address does not read; send JSON."),
    500: _l("An unexpected error; it has been logged."),
}


def title(status: int) -> str:
    """The problem's title for `status`: its HTTP phrase in the current language ("Error",
    translated, for a status without a phrase or a phrase without a translation)."""
    if status not in HTTPStatus._value2member_map_:
        return _("Error")
    phrase = HTTPStatus(status).phrase
    found = _(phrase)
    if found == phrase and translate.current() != "en":
        return _("Error")
    return found


def problem(
    status: int,
    detail: str = "",
    *,
    errors: Mapping[str, str] | None = None,
    state: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response with `status` and `detail`."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title(status),
        "status": status,
        "detail": detail or title(status),
    }
    if errors:
        body["errors"] = dict(errors)
    if state is not None:
        body["state"] = state
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow/webargs messages ({"json": {"amount": ["Not a valid number."]}}) as one
    flat {field: message} map in the reader's language; the request location ("json",
    "query") is dropped."""
    flat: dict[str, str] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in ("json", "query", "headers", "form", "view_args"):
                flat.update(flatten(value, ""))
                continue
            flat.update(flatten(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = "; ".join(translated_message(m) for m in messages)
    elif isinstance(messages, list | tuple):
        for index, value in enumerate(messages):
            flat.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = translated_message(str(messages))
    return flat


def named(errors: Mapping[str, str]) -> str:
    """The fields of `errors` as the reader knows them: each by its form label; one the
    request should not have sent by its name in quotes (the client's word, not ours)."""
    unknown = translated_message("Unknown field.")
    names = []
    for key in sorted(errors):
        top = key.split(".", 1)[0]
        if top == "_schema":
            continue
        if errors[key] == unknown:
            names.append(f"“{key}”")
        else:
            names.append(field_label(top))
    return ", ".join(dict.fromkeys(names))


def input_problem(status: int, errors: Mapping[str, str]) -> Response:
    """A refusal of input: `detail` names the fields by their labels, `errors` says what
    is wrong with each."""
    names = named(errors)
    if names:
        detail = _("some input is missing or wrong: %(fields)s", fields=names)
    else:
        detail = "; ".join(errors.values()) or _("some input is missing or wrong")
    return problem(status, detail, errors=errors)


def in_api() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        headers["Allow"] = ", ".join(allowed)
    if isinstance(error, CSRFError):
        refusal = _("a browser session must send the X-CSRFToken header with every change")
        return problem(400, refusal, headers=headers)
    if messages:
        return input_problem(status, flatten(messages))
    detail: Any = data.get("message")
    if not detail:
        own = error.description != type(error).description
        if own and error.description:
            detail = error.description
        elif status in DESCRIPTIONS:
            detail = str(DESCRIPTIONS[status])
        else:
            detail = title(status)
    return problem(status, str(detail), headers=headers)


def from_refused(error: Refused) -> Response:
    return problem(error.status, error.reason, errors=error.fields, state=error.state)


def from_validation_error(error: ValidationError) -> Response:
    return input_problem(422, flatten(error.messages))


def from_integrity_error(error: IntegrityError) -> Response:
    # A unique or check constraint caught what the code did not: another request won a race
    # (a second approval of the same level) or the input contradicts a stored row.
    log.info("integrity error answered as 409: %s", error.orig)
    return problem(409, _("the change conflicts with another one made meanwhile; reload and retry"))


def from_operational_error(error: OperationalError) -> Response:
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock timeout
        return problem(409, _("the object was busy with another change; retry"))
    log.exception("database error", exc_info=error)
    return problem(503, _("the database is not available; retry later"))


def init_app(app: Flask) -> None:
    """Answer in problem+json under /api/v1, leaving other paths to the handlers already set."""
    handlers = app.error_handler_spec[None][None]
    before_http: Callable[[Any], Any] | None = handlers.get(HTTPException)
    before_any: Callable[[Any], Any] | None = handlers.get(Exception)

    def on_http_exception(error: HTTPException) -> Any:
        if in_api():
            return from_http_exception(error)
        return before_http(error) if before_http else error

    def on_exception(error: Exception) -> Any:
        if in_api():
            if isinstance(error, Refused):
                return from_refused(error)
            if isinstance(error, Unauthorized):
                challenge = 'Bearer error="invalid_token"' if error.invalid else "Bearer"
                return problem(401, error.detail, headers={"WWW-Authenticate": challenge})
            if isinstance(error, ValidationError):
                return from_validation_error(error)
            if isinstance(error, IntegrityError):
                return from_integrity_error(error)
            if isinstance(error, OperationalError):
                return from_operational_error(error)
            if isinstance(error, OrgError):
                return problem(422, str(error))
            if isinstance(error, PermissionError):
                return problem(403, str(error))
            log.exception("unhandled API error", exc_info=error)
            return problem(500, str(DESCRIPTIONS[500]))
        if before_any is not None:
            return before_any(error)
        raise error

    app.register_error_handler(HTTPException, on_http_exception)
    app.register_error_handler(Exception, on_exception)
