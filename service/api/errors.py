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
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from service.api.auth import Unauthorized
from service.org.operations import OrgError
from service.workflow.engine import Refused

PROBLEM = "application/problem+json"
PREFIX = "/api/v1"
log = logging.getLogger("tidtam.api")


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
        "title": HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error",
        "status": status,
        "detail": detail or HTTPStatus(status).description,
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
    flat {field: message} map; the request location ("json", "query") is dropped."""
    flat: dict[str, str] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in ("json", "query", "headers", "form", "view_args"):
                flat.update(flatten(value, ""))
                continue
            flat.update(flatten(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = "; ".join(messages)
    elif isinstance(messages, list | tuple):
        for index, value in enumerate(messages):
            flat.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = str(messages)
    return flat


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
        detail = (
            "a browser session must send the X-CSRFToken header with every change "
            f"({error.description})"
        )
        return problem(400, detail, headers=headers)
    if messages:
        errors = flatten(messages)
        names = ", ".join(sorted(errors))
        return problem(status, f"some input is missing or wrong: {names}", errors=errors)
    detail = data.get("message") or error.description or ""
    return problem(status, str(detail), headers=headers)


def from_refused(error: Refused) -> Response:
    return problem(error.status, error.reason, errors=error.fields, state=error.state)


def from_validation_error(error: ValidationError) -> Response:
    errors = flatten(error.messages)
    return problem(
        422, f"some input is missing or wrong: {', '.join(sorted(errors))}", errors=errors
    )


def from_integrity_error(error: IntegrityError) -> Response:
    # A unique or check constraint caught what the code did not: another request won a race
    # (a second approval of the same level) or the input contradicts a stored row.
    log.info("integrity error answered as 409: %s", error.orig)
    return problem(409, "the change conflicts with another one made meanwhile; reload and retry")


def from_operational_error(error: OperationalError) -> Response:
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock timeout
        return problem(409, "the object was busy with another change; retry")
    log.exception("database error", exc_info=error)
    return problem(503, "the database is not available; retry later")


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
            return problem(500, "an unexpected error; it has been logged")
        if before_any is not None:
            return before_any(error)
        raise error

    app.register_error_handler(HTTPException, on_http_exception)
    app.register_error_handler(Exception, on_exception)
