"""Hostile input at every door: every rule of the app's URL map, as each role and anonymously.

Path ids get hostile ids; GET requests get hostile values in every query parameter a view
reads; POSTs get every form field name the templates use; the API's write operations get
deeply nested JSON, lone surrogates and hostile values in their fields. No answer may be a
5xx, and a refused (4xx) change may write no row. Values are sampled per parameter in
rotation (every value reaches every parameter of some rule), not crossed in full, so the run
stays well under a minute on SQLite.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from tests.conftest import DEMO_PASSWORDS, csrf_token, login

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("anonymous", "school", "officer", "approver", "evaluator", "admin")
API_ROLES = ("anonymous", "school", "officer")
HOSTILE = (
    "\x00",
    "1e309",
    "NaN",
    "99999999999",
    "-1",
    "²",
    "๑๒",
    "x" * 100_000,
    "\ud800",
    "\u202egnp.exe",
)
SHORT = tuple(value for value in HOSTILE if len(value) < 100)
HOSTILE_IDS = ("99999999999", "0", "๑๒", "²", "-1", "1e309")
QUERY_PARAMS = (
    "q",
    "year",
    "unit",
    "page",
    "sort",
    "format",
    "status",
    "id",
    "behind",
    "lang",
    "next",
    "reason",
    "section",
    "after",
    "installments_page",
    "installments_after",
    "quarter",
    "subject_type",
    "subject_id",
    "per_page",
    "fiscal_year",
    "state",
    "project",
    "overdue",
    "code",
)
# Tables a refused change must leave as they were.
WATCHED = (
    "project",
    "plan_step",
    "step_result",
    "evidence_file",
    "progress_report",
    "api_token",
    "org_unit",
    "app_user",
    "role_assignment",
    "delegation",
    "fiscal_year",
    "audit_entry",
    "outbox_event",
    "notification",
    "reminder_rule",
    "allocation",
    "installment",
    "approval",
    "strategy_node",
    "evaluation",
)
COUNT_ROWS = text("SELECT " + " + ".join(f"(SELECT count(*) FROM {t})" for t in WATCHED))
SKIPPED = {"static", "auth.logout"}  # a file server; signing out ends the role's run
SLOW = {"projects.pdf"}  # a second a render: its ids only (its query is the page's)
ADDRESS = {"REMOTE_ADDR": "192.0.2.77"}  # its own address: the login limits stay untouched
#: Where each role signs in from: the hostile sign-in attempts sent from ADDRESS fill that
#: address's limit of failed sign-ins, as they would a real attacker's.
SIGN_IN_ADDRESS = {"REMOTE_ADDR": "192.0.2.78"}


def sample(values: Sequence[str], turn: int, size: int) -> list[str]:
    """`size` of `values` from position `turn` on, wrapping: rotated over rules and roles so
    every value meets every parameter somewhere without crossing them all."""
    return [values[(turn + step) % len(values)] for step in range(size)]


def encode(value: str) -> str:
    """Percent-encoding that lets a lone surrogate through (as a browser's bytes would)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def form_body(fields: dict[str, str]) -> bytes:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in fields.items()).encode()


def form_field_names() -> list[str]:
    names: set[str] = set()
    for template in (ROOT / "templates").rglob("*.html"):
        names.update(re.findall(r'name="([A-Za-z_][\w:.\-]*)"', template.read_text()))
    names.update(
        ("ids", "id", "action", "amount", "paid_on", "reported_on", "completion", "percent")
    )
    names.discard("csrf_token")
    names.discard("viewport")
    return sorted(names)


def api_field_names() -> list[str]:
    from service.api import schemas

    names: set[str] = set()
    for value in vars(schemas).values():
        if isinstance(value, type) and issubclass(value, schemas.Input):
            names.update(value._declared_fields)
    return sorted(names)


def path_for(rule: Rule, hostile: str | None) -> str:
    """The rule's path with its ids set to `hostile` (or 1) and its names to a choice."""

    def fill(match: re.Match[str]) -> str:
        converter, _name = match.group(1) or "default", match.group(2)
        if converter.startswith("int"):
            return hostile if hostile is not None else "1"
        if converter.startswith("any"):
            return converter[converter.index("(") + 1 :].split(",")[0].strip(" ')\"")
        return encode(hostile) if hostile is not None else "x"

    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", fill, rule.rule)


class Fuzzer:
    def __init__(self, app: Flask, session: Session) -> None:
        self.app = app
        self.session = session
        self.failures: list[str] = []
        self.counts: Counter[str] = Counter()
        self.took: Counter[str] = Counter()
        self.rows = self.count_rows()

    def count_rows(self) -> int:
        return int(self.session.execute(COUNT_ROWS).scalar_one())

    def client_for(self, role: str) -> tuple[FlaskClient, str]:
        client = self.app.test_client()
        if role != "anonymous":
            email = f"{role}@demo.tidtam.local"
            client.environ_base.update(SIGN_IN_ADDRESS)
            login(client, email, DEMO_PASSWORDS[email])
            self.rows = self.count_rows()  # signing in is recorded (the sign-in history)
        client.environ_base.update(ADDRESS)
        return client, csrf_token(client, "/login" if role == "anonymous" else "/notifications")

    def send(self, role: str, client: FlaskClient, method: str, url: str, **kw: object) -> int:
        self.counts[role] += 1
        writes = method != "GET"
        began = time.monotonic()
        response = client.open(url, method=method, **kw)  # type: ignore[arg-type]
        self.took[url.split("?")[0]] += time.monotonic() - began
        status = response.status_code
        shown = url if len(url) < 160 else url[:160] + "…"
        if status >= 500:
            body = kw.get("data")
            sample = body[:120] if isinstance(body, bytes | str) else ""
            self.failures.append(f"{role} {method} {shown} {sample!r} -> {status}")
        if writes:
            rows = self.count_rows()
            if 400 <= status < 500 and rows != self.rows:
                self.failures.append(f"{role} {method} {shown} -> {status} wrote rows")
            self.rows = rows
        return status

    def get_rules(self, role: str, client: FlaskClient, rules: list[Rule], offset: int) -> None:
        for index, rule in enumerate(rules):
            turn = index + offset
            for hostile in sample(HOSTILE_IDS, turn, 2) if "<" in rule.rule else ():
                self.send(role, client, "GET", path_for(rule, hostile))
            base = path_for(rule, None)
            if rule.endpoint in SLOW:
                continue
            for value in sample(SHORT, turn, 1):
                query = "&".join(f"{p}={encode(value)}" for p in QUERY_PARAMS)
                self.send(role, client, "GET", f"{base}?{query}")
            for number, param in enumerate(sample(QUERY_PARAMS, turn * 3, 3)):
                value = HOSTILE[(turn + number) % len(HOSTILE)]
                self.send(role, client, "GET", f"{base}?{param}={encode(value)}")

    def post_rules(
        self, role: str, client: FlaskClient, token: str, rules: list[Rule], offset: int
    ) -> None:
        names = form_field_names()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for index, rule in enumerate(rules):
            url = path_for(rule, None)
            turn = index + offset
            for hostile in sample(HOSTILE_IDS, turn, 2) if "<" in rule.rule else ():
                data = form_body({"csrf_token": token})
                self.send(role, client, "POST", path_for(rule, hostile), data=data, headers=headers)
            for value in sample(SHORT, turn, 3):
                fields = dict.fromkeys(names, value) | {"csrf_token": token}
                self.send(role, client, "POST", url, data=form_body(fields), headers=headers)
            # One field at a time, so a view refusing its first field still reads the others;
            # only where the role gets past the door (not a redirect to login, 403 or 404).
            probe = self.send(
                role, client, "POST", url, data=form_body({"csrf_token": token}), headers=headers
            )
            if probe in (302, 403, 404, 405) and rule.endpoint != "auth.login":
                continue
            for number, name in enumerate(sample(names, turn * 10, 10)):
                value = HOSTILE[(turn + number) % len(HOSTILE)]
                data = form_body({name: value, "csrf_token": token})
                self.send(role, client, "POST", url, data=data, headers=headers)

    def transitions(self, role: str, client: FlaskClient, token: str, offset: int) -> None:
        """/actions/<workflow>/<id>/<name> for every transition of every workflow table, the
        page door of the engine (its path names are words, not ids)."""
        from service.workflow import engine

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        turn = offset
        for workflow in engine.load_workflows().values():
            for transition in workflow.transitions:
                turn += 1
                for ident in ("1", sample(HOSTILE_IDS, turn, 1)[0]):
                    url = f"/actions/{workflow.name}/{ident}/{transition.name}"
                    fields = {
                        name: HOSTILE[(turn + number) % len(HOSTILE)]
                        for number, name in enumerate(("reason", "paid_on", "next", "amount"))
                    }
                    data = form_body(fields | {"csrf_token": token})
                    self.send(role, client, "POST", url, data=data, headers=headers)

    def api_writes(
        self, role: str, client: FlaskClient, token: str, rules: list[Rule], offset: int
    ) -> None:
        headers = {"Content-Type": "application/json", "X-CSRFToken": token}
        names = api_field_names()
        bodies = [
            "[" * 100_000 + "]" * 100_000,
            '{"a":' * 5_000 + "1" + "}" * 5_000,
            json.dumps({name: "\ud800" for name in names}),
            '{"name": "\\ud800", "code": "\\udfff", "reason": "a\\u0000b"}',
        ]
        for index, rule in enumerate(rules):
            method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]  # type: ignore[operator]
            url = path_for(rule, None)
            turn = index + offset
            for hostile in sample(HOSTILE_IDS, turn, 2) if "<int" in rule.rule else ():
                self.send(role, client, method, path_for(rule, hostile), data="{}", headers=headers)
            for body in bodies:
                self.send(role, client, method, url, data=body, headers=headers)
            for number, value in enumerate(sample(HOSTILE, turn, 4)):
                pick = HOSTILE[(turn + number) % len(HOSTILE)]
                fields = {name: value for name in names[number::4]}
                fields.update({name: [pick] for name in ("ids", "unit_ids")})
                data = json.dumps(fields)
                self.send(role, client, method, url, data=data, headers=headers)


def rules_of(app: Flask) -> Iterator[tuple[str, Rule]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # type: ignore[operator]
            yield method, rule


def test_no_hostile_value_gives_a_server_error_or_writes_a_row(
    app: Flask, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    fuzzer = Fuzzer(app, session)
    found = list(rules_of(app))
    gets = [r for m, r in found if m == "GET"]
    pages = [r for r in gets if not r.rule.startswith("/api/")]
    api_gets = [r for r in gets if r.rule.startswith("/api/")]
    api = [r for m, r in found if m != "GET" and r.rule.startswith("/api/")]
    posts = [r for m, r in found if m == "POST" and not r.rule.startswith("/api/")]
    started = time.monotonic()
    for offset, role in enumerate(ROLES):
        client, token = fuzzer.client_for(role)
        # The API reads its query and body through its schemas before any role check: the
        # API is fuzzed as three callers, the pages as every role.
        api_too = role in API_ROLES
        fuzzer.get_rules(role, client, pages + (api_gets if api_too else []), offset)
        fuzzer.post_rules(role, client, token, posts, offset)
        fuzzer.transitions(role, client, token, offset)
        if api_too:
            fuzzer.api_writes(role, client, token, api, offset)
        with capsys.disabled():
            print(f"\n{role}: {fuzzer.counts[role]} requests, {time.monotonic() - started:.0f} s")
    took = time.monotonic() - started
    with capsys.disabled():
        counts = ", ".join(f"{role} {fuzzer.counts[role]}" for role in ROLES)
        print("slowest:", fuzzer.took.most_common(12))
        print(f"\nhostile input: {sum(fuzzer.counts.values())} requests in {took:.0f} s: {counts}")
    assert len(gets) > 40 and len(posts) > 25 and len(api) > 30
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:80])
