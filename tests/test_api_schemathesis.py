"""schemathesis against the OpenAPI document, in-process (WSGI): for every operation a bounded
number of generated requests, each sent as a school and as the district officer, must get no
5xx and an answer that matches the document (problem+json included). Each request runs in a
transaction rolled back afterwards, so what the fuzzer creates never reaches other tests."""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api_support import headers_for, rolled_back

ROLES = ("school_a", "officer")
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
                        },
                        checks=[not_a_server_error, response_schema_conformance],
                    )

        try:
            holds()
        except Exception as error:  # collect them all, then fail once
            failures[operation.label] = str(error)[:1500]
    assert operations >= 55
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
