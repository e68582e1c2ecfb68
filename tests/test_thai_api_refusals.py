"""Every refusal of the API in Thai: each route of the permission matrix is asked, with
`Accept-Language: th`, by every kind of caller, then with the input broken each way the
input layer refuses it (a missing body, an unknown field, every field of the wrong type,
a body that is not JSON, a bad or stale If-Match, a bad X-Acting-For, an id that does not
exist), with bad tokens, at unknown addresses and with methods a route does not take. No
`title`, `detail` or message in `errors` may hold English words; `Accept-Language: en`
gets English back, and a token's user who chose English is answered in English.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.core.labels import FIELDS
from service.org.models import User
from tests.api_support import ROLES, all_headers, problem_of, rolled_back
from tests.conftest import csrf_token, login
from tests.test_api_permissions import ROWS, Row, world
from tests.test_thai_refusals import english_in

TH = {"Accept-Language": "th"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
# What the client must type as it is, not words to translate: `code`, “a value the client
# sent or must send”, and the names of HTTP headers.
_VERBATIM = re.compile(r"`[^`]*`|“[^”]*”|If-Match|X-Acting-For|X-CSRFToken|Authorization|Bearer")


def words_in(problem: dict[str, Any]) -> list[str]:
    """What a person reads in a problem: its title, detail and each input's message."""
    texts = [str(problem.get("title", "")), str(problem.get("detail", ""))]
    texts += [str(message) for message in (problem.get("errors") or {}).values()]
    for item in problem.get("results") or ():
        texts.append(str(item.get("detail") or ""))
        texts += [str(message) for message in (item.get("errors") or {}).values()]
    return texts


class Answers:
    """The refusals seen, and the English found in them."""

    def __init__(self) -> None:
        self.statuses: set[int] = set()
        self.english: list[str] = []

    def check(self, where: str, response: Any) -> None:
        if response.status_code == 200 and isinstance(response.get_json(silent=True), dict):
            body = response.get_json()
            items = body.get("results")
            if isinstance(items, list) and all(  # a bulk answer: each item refused inside the 200
                isinstance(item, dict) and "ok" in item for item in items
            ):
                for item in body["results"]:
                    if not item["ok"]:
                        self.statuses.add(item["status"])
                self._english(where, words_in({"results": body["results"]}))
            return
        if response.status_code < 400:
            return
        self.statuses.add(response.status_code)
        self._english(where, words_in(problem_of(response)))

    def _english(self, where: str, texts: list[str]) -> None:
        for text in texts:
            found = english_in(_VERBATIM.sub(" ", text))
            if found:
                self.english.append(f"{where}: {text!r} ({', '.join(found)})")


WRONG = [[]]  # of the wrong type for every field: no field reads a list of lists


def broken_bodies(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The row's body broken each way the input layer refuses."""
    return [
        ("empty body", {}),
        ("unknown field", {**body, "colour": "red"}),
        ("every field wrong", {name: WRONG for name in body} | {"colour": None}),
        *((f"{name} null", {**body, name: None}) for name in body),
        *((f"{name} huge", {**body, name: "x" * 30_000}) for name in body),
    ]


def missing_path(row: Row, ids: dict[str, Any]) -> str | None:
    """The row's path with its object's id replaced by one that does not exist."""
    path = row.path(ids)
    replaced = re.sub(r"/[0-9]+(?=/|$)", "/2147483647", path, count=1)
    return replaced if replaced != path else None


@pytest.mark.parametrize("row", ROWS, ids=[row.key for row in ROWS])
def test_every_refusal_of_the_route_is_thai(
    client: FlaskClient, session: Session, row: Row
) -> None:
    ids = world(session)
    headers = all_headers(session)
    answers = Answers()
    body = row.body(ids) if row.body else None

    def ask(where: str, path: str, **kw: Any) -> None:
        kw.setdefault("method", row.method)
        kw["headers"] = {**TH, **kw.get("headers", {})}
        answers.check(f"{row.key} {where}", client.open(path, **kw))

    for role in ROLES:
        ask(role, row.path(ids), json=body, headers={**headers[role], **row.extra})
    caller = {**headers["officer"], **row.extra}
    # Bad tokens from an address of the row's own: each address may send only a few.
    elsewhere = {"REMOTE_ADDR": f"10.11.{ROWS.index(row)}.1"}
    for where, header in (("bad token", "Bearer tdt_nope"), ("not bearer", "Basic eDp5")):
        ask(
            where,
            row.path(ids),
            json=body,
            headers={"Authorization": header},
            environ_base=elsewhere,
        )
    if (path := missing_path(row, ids)) is not None:
        ask("missing object", path, json=body, headers=caller)
    ask("wrong method", row.path(ids), method="PUT", json={}, headers=caller)
    if body is not None:
        for where, broken in broken_bodies(body):
            ask(where, row.path(ids), json=broken, headers=caller)
        ask("not JSON", row.path(ids), data=b'{"a": ', content_type="application/json")
        ask(
            "not JSON, signed in",
            row.path(ids),
            data=b'{"a": ',
            headers={**caller, "Content-Type": "application/json"},
        )
        if "/transitions/" in row.rule or row.method == "PATCH":
            for header, value in (
                ("If-Match", "not-a-version"),
                ("If-Match", '"999"'),
                ("X-Acting-For", "abc"),
                ("X-Acting-For", "2147483647"),
            ):
                ask(
                    f"{header}: {value}",
                    row.path(ids),
                    json=body,
                    headers={**caller, header: value},
                )
    else:
        ask("unknown parameter", row.path(ids) + "?colour=red", headers=caller)
        ask("wrong page", row.path(ids) + "?page=abc&per_page=0", headers=caller)
    assert answers.statuses, "nothing was refused: the row tests nothing"
    assert not answers.english, "English in Thai API answers:\n" + "\n".join(answers.english)


def test_the_machinery_refuses_in_thai(client: FlaskClient, session: Session) -> None:
    answers = Answers()
    for path, method in (
        ("/api/v1/nothing-here", "GET"),
        ("/api/v1/projects/99999999999", "GET"),
        ("/api/v1/projects", "DELETE"),
    ):
        answers.check(path, client.open(path, method=method, headers=TH))
    answers.check("bad token", client.get("/api/v1/me", headers={**TH, "Authorization": "x"}))
    login(client, "officer@demo.tidtam.local", "demo-officer-2566")
    no_csrf = client.post("/api/v1/tokens", json={"name": "x"}, headers=TH)
    assert no_csrf.status_code == 400
    answers.check("session without CSRF header", no_csrf)
    # Too many bad tokens from one address.
    for _attempt in range(21):
        crowded = client.get(
            "/api/v1/projects",
            headers={**TH, "Authorization": "Bearer tdt_nope"},
            environ_base={"REMOTE_ADDR": "10.12.0.1"},
        )
    assert crowded.status_code == 429
    answers.check("too many bad tokens", crowded)
    assert {400, 401, 404, 405, 429} <= answers.statuses, answers.statuses
    assert not answers.english, "\n".join(answers.english)
    # The page's own form token still works: the header is what is missing, not the session.
    token = csrf_token(client, "/home")
    ok = client.post("/api/v1/tokens", json={"name": "x"}, headers={**TH, "X-CSRFToken": token})
    assert ok.status_code == 201


def test_english_when_asked_and_for_users_who_chose_it(
    client: FlaskClient, session: Session
) -> None:
    ids = world(session)
    headers = all_headers(session)
    unknown = {"name": "x", "colour": "red"}
    english = client.post("/api/v1/tokens", json=unknown, headers={**headers["officer"], **EN})
    problem = problem_of(english)
    assert problem["title"] == "Unprocessable Entity"
    assert problem["detail"] == "some input is missing or wrong: “colour”"
    assert problem["errors"] == {"colour": "Unknown field."}
    thai = problem_of(client.post("/api/v1/tokens", json=unknown, headers=headers["officer"]))
    assert not english_in(_VERBATIM.sub(" ", thai["detail"])), thai
    # Without the header, the token's user's own language.
    officer = session.get(User, ids["officer"])
    assert officer is not None
    officer.language = "en"
    session.commit()
    chose = problem_of(client.post("/api/v1/tokens", json=unknown, headers=headers["officer"]))
    assert chose["errors"] == {"colour": "Unknown field."}
    wrong = client.post("/api/v1/tokens", json={"name": [[]]}, headers={**headers["officer"], **TH})
    assert problem_of(wrong)["detail"].endswith("ชื่อ"), problem_of(wrong)


def test_every_input_of_the_api_has_a_label(app: Flask) -> None:
    """A refusal names its fields by their labels: an input without one would be named in
    English by its key."""
    api = app.extensions["tidtam.api"]
    schemas = api.spec.to_dict()["components"]["schemas"]
    unnamed = set()
    for path in api.spec.to_dict()["paths"].values():
        for method, operation in path.items():
            if method == "parameters":
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] not in FIELDS:
                    unnamed.add(parameter["name"])
            body = operation.get("requestBody", {}).get("content", {})
            for content in body.values():
                ref = content["schema"].get("$ref", "").rsplit("/", 1)[-1]
                for name in schemas.get(ref, {}).get("properties", {}):
                    if name not in FIELDS:
                        unnamed.add(name)
    assert not unnamed, f"inputs without a label in FIELDS (the domain's labels.py): {unnamed}"


# ---- the command line -----------------------------------------------------------------------

ADMIN = "admin@demo.tidtam.local"
OFFICER = "officer@demo.tidtam.local"
#: Each admin command refused each way it can be, then done (the last of each list).
COMMANDS: list[tuple[str, list[str], int]] = [
    ("not an admin", ["deactivate-user", "school@demo.tidtam.local", "--as", OFFICER], 1),
    ("no such user", ["deactivate-user", "nobody@demo.tidtam.local", "--as", ADMIN], 1),
    ("no such unit", ["grant-role", OFFICER, "school", "99999999", "--as", ADMIN], 1),
    ("not held", ["withdraw-role", OFFICER, "school", "5023077101", "--as", ADMIN], 1),
    ("year taken", ["add-fiscal-year", "2566", "--as", ADMIN], 1),
    ("no such year", ["set-fiscal-year", "2599", "--open", "--as", ADMIN], 1),
    ("open or closed", ["set-fiscal-year", "2566", "--as", ADMIN], 2),
    (
        "bad user",
        ["create-user", "--email", "x", "--name", "x", "--password", "short", "--as", ADMIN],
        1,
    ),
    ("grant", ["grant-role", OFFICER, "school", "5023077102", "--as", ADMIN], 0),
    ("withdraw", ["withdraw-role", OFFICER, "school", "5023077102", "--as", ADMIN], 0),
    ("add year", ["add-fiscal-year", "2590", "--as", ADMIN], 0),
    ("close year", ["set-fiscal-year", "2590", "--closed", "--as", ADMIN], 0),
    ("deactivate", ["deactivate-user", "school@demo.tidtam.local", "--as", ADMIN], 0),
    ("deactivated", ["deactivate-user", "school@demo.tidtam.local", "--as", ADMIN], 1),
]


def test_the_command_line_speaks_the_deployments_language(app: Flask) -> None:
    """Without --lang the admin commands print in BABEL_DEFAULT_LOCALE (Thai here), refusals
    and what was done alike; --lang en prints English."""
    assert app.config["BABEL_DEFAULT_LOCALE"] == "th"
    english = []
    with rolled_back(app):
        runner = app.test_cli_runner()
        for where, args, code in COMMANDS:
            result = runner.invoke(args=["admin", *args])
            assert result.exit_code == code, (where, result.output, result.exception)
            assert result.output.strip(), where
            if found := english_in(_VERBATIM.sub(" ", result.output)):
                english.append(f"{where}: {result.output!r} ({', '.join(found)})")
        asked = runner.invoke(
            args=["admin", "--lang", "en", "set-fiscal-year", "2566", "--as", ADMIN]
        )
        assert asked.exit_code == 2 and "say --open or --closed" in asked.output
    assert not english, "\n".join(english)
