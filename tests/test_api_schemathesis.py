"""schemathesis against the OpenAPI document, in-process (WSGI): for every operation a bounded
number of generated requests, each sent as a school and as the district officer, must get no
5xx and an answer that matches the document (problem+json included). Each request runs in a
transaction rolled back afterwards, so what the fuzzer creates never reaches other tests."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api_support import headers_for, rolled_back

ROLES = ("school_a", "officer")
#: How the API's input layer (marshmallow, webargs) words a refusal: a request the document
#: calls valid must never get it, or the document does not say what the server enforces.
INPUT_REFUSAL = "some input is missing or wrong"
#: Rules across fields that the document does not state yet (an OpenAPI `oneOf` of required
#: sets would): a refusal for one of these is not counted.
UNSTATED_RULES = ("give exactly one of Project and KPI", "must not be before From")


def schema_valid_input_accepted(ctx: object, response: Any, case: schemathesis.Case) -> None:
    """The input layer accepts every request the document calls valid (business refusals,
    such as a parent unit that does not exist, are the operations' and may still come)."""
    if response.status_code not in (400, 422):
        return
    body = response.json() if "json" in response.headers.get("content-type", [""])[0] else {}
    detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
    errors = body.get("errors", {}) if isinstance(body, dict) else {}
    if any(str(message) in UNSTATED_RULES for message in errors.values()):
        return
    if detail.startswith(INPUT_REFUSAL):
        raise AssertionError(f"schema-valid request rejected by the input layer: {detail}")


EXAMPLES = 5


def test_every_operation_keeps_its_contract(app: Flask) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9 yet: each operation gets a
    # Hypothesis test of its own here, and every failure is reported at the end.
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: dict[str, str] = {}
    operations = 0
    for found in api.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def holds(case: schemathesis.Case) -> None:
            for role in ROLES:
                with rolled_back(app) as (session, _client):
                    headers = headers_for(session, role)
                    session.commit()
                    case.call_and_validate(
                        # The WSGI client decodes no Content-Encoding: ask for none.
                        headers={
                            **(case.headers or {}),
                            **headers,
                            "Accept-Encoding": "identity",
                            # The refusals below are recognised by their English words.
                            "Accept-Language": "en",
                        },
                        checks=[
                            not_a_server_error,
                            response_schema_conformance,
                            schema_valid_input_accepted,
                        ],
                    )

        try:
            holds()
        except Exception as error:  # collect them all, then fail once
            failures[operation.label] = str(error)[:1500]
    assert operations >= 55
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
