"""The REST API, /api/v1: flask-smorest resources over the same operations, workflows and
permission predicates the pages use.

- Auth: a browser session (changes need the X-CSRFToken header) or a personal API token
  (`Authorization: Bearer tdt_…`, see service.api.auth).
- Errors: application/problem+json everywhere under /api/v1 (service.api.errors).
- Lists: `?page=&per_page=` (≤ 100) or `?after=<next>&per_page=` answered as
  {"items", "page", "per_page", "total", "total_exact", "next"}.
- Money, percents and measures are decimal strings; unknown input fields are refused.
- The OpenAPI 3 document is /api/v1/openapi.json; /api/v1/docs renders it as a page with no
  script and no CDN (the service runs on closed networks under a strict CSP).
"""

from __future__ import annotations

import http
import importlib
import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from service.api import errors
from service.api.auth import authenticate, commit_token_use
from service.api.errors import PROBLEM
from service.api.schemas import DecimalString, ProblemSchema, Text
from service.extensions import csrf

log = logging.getLogger("tidtam.api")

#: The modules whose `blp` is a resource of the API, in the document's order. Named, not
#: imported here: a domain's api module (service.kpis.api) imports this package's modules, so
#: importing it from here made `import service.kpis.api` fail on the cycle.
RESOURCES = (
    "service.org.api",
    "service.projects.api",
    "service.projects.results_api",
    "service.projects.plan_api",
    "service.budget.api",
    "service.evaluations.api",
    "service.kpis.api",
    "service.rollups.api",
    "service.audit.api",
    "service.auth.api",
    "service.notifications.api",
    "service.threads.api",
)


def resource_blueprints() -> list[Any]:
    """The blueprints of RESOURCES."""
    return [importlib.import_module(path).blp for path in RESOURCES]


def _resource_names() -> frozenset[str]:
    names: frozenset[str] = current_app.extensions["tidtam.api_resources"]
    return names


DESCRIPTION = """Tidtam's REST API.

Authenticate with a personal API token (`Authorization: Bearer tdt_…`, made at
`POST /api/v1/tokens`) or a browser session (then send `X-CSRFToken` with every change).
Lists take `page` and `per_page` (at most 100) and answer `{items, page, per_page, total,
next}`; `after=<next>` reads the rows after the page before by key, in the list's order.
Money, percents and measures are decimal strings ("90000.00"). Unknown fields are refused.
Errors are `application/problem+json`: `detail` says why, `errors` names bad fields, `state`
is the object's current state when a transition is refused. Transitions take `If-Match:
<version>` (409 when the object changed since) and `X-Acting-For: <user id>` (delegation).
Problems (`title`, `detail`, the messages in `errors`) are in the language `Accept-Language`
asks for (`th` or `en`), else the account's language, else Thai; field names stay as sent.
"""


class TidtamApi(Api):
    """flask-smorest's Api, with problem+json as the documented error body and without its
    app-wide JSON error handler (errors.init_app answers under /api/v1 only)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        errors.init_app(self._app)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, Any] = {"description": "A problem", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


def _authenticate_api() -> None:
    if request.blueprint in _resource_names():
        authenticate()


def _commit_token_use(response: Response) -> Response:
    if request.blueprint in _resource_names():
        try:
            commit_token_use()
        except Exception:  # the answer is made: a lost stamp is written by a later request
            log.warning("stamping the API token's last use failed", exc_info=True)
    return response


docs_bp = Blueprint("api_page", __name__, url_prefix="/api/v1")


@docs_bp.route("/docs")
def docs_page() -> str:
    """The OpenAPI document as a plain page: every operation, its parameters and bodies."""
    api: TidtamApi = current_app.extensions["tidtam.api"]
    spec = api.spec.to_dict()
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "tag": (operation.get("tags") or [""])[0],
                    "summary": operation.get("summary", ""),
                    "parameters": [*item.get("parameters", []), *operation.get("parameters", [])],
                    "body": _schema_name(body.get("schema")),
                    "responses": {
                        code: _response_schema(response)
                        for code, response in operation.get("responses", {}).items()
                    },
                }
            )
    schemas = spec.get("components", {}).get("schemas", {})
    return render_template(
        "api/docs.html", info=spec["info"], operations=operations, schemas=schemas
    )


def _response_schema(response: dict[str, Any]) -> str:
    contents: dict[str, Any] = response.get("content", {})
    for content in contents.values():
        return _schema_name(content.get("schema"))
    return ""


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "items" in schema:
        return _schema_name(schema["items"]) + "[]"
    return str(schema.get("type", ""))


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Tidtam API")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {"description": DESCRIPTION},
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {
                    "token": {"type": "http", "scheme": "bearer", "bearerFormat": "tdt_…"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                }
            },
            "security": [{"token": []}, {"session": []}],
        },
    )
    api = TidtamApi(app)
    api.register_field(DecimalString, "string", "decimal")
    api.register_field(Text, "string", None)
    blueprints = resource_blueprints()
    app.extensions["tidtam.api_resources"] = frozenset(blp.name for blp in blueprints)
    for blp in blueprints:
        csrf.exempt(blp)
        api.register_blueprint(blp)
    app.register_blueprint(docs_bp)
    app.before_request(_authenticate_api)
    app.after_request(_commit_token_use)
    app.extensions["tidtam.api"] = api
