"""Enter never takes a decision nobody chose (issue 18, finding 1).

Every form with more than one decision (two or more submit buttons) is found on the rendered
pages of every role, so a new one is covered without touching this test. In each, with every
checkbox ticked, each field is focused, typed into and Enter is pressed: the browser must send
nothing, or only a form without a decision that the server refuses (400), and the database
(states, reasons, audit rows) must be as it was. Before the fix, a
return reason typed on the review queue and Enter accepted the ticked results.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from service import create_app
from service.core.db import make_engine
from service.extensions import db
from service.workflow import engine
from tests.browser.test_journeys import (  # the suite's server, browser and signed-in tab
    PROJECT_CODE,
    Person,
    Server,
    browser,  # noqa: F401
    server,  # noqa: F401
)
from tests.conftest import DEMO_PASSWORDS, RUN_ID, app_environment
from tests.work_data import school_result, user

pytestmark = [pytest.mark.browser, pytest.mark.worker]

#: What a decision could change, read before and after each Enter.
SNAPSHOT = {
    "audit": "SELECT count(*), max(id) FROM audit_entry",
    "results": "SELECT id, state, review_reason, version FROM step_result ORDER BY id",
    "projects": "SELECT id, state, version FROM project ORDER BY id",
    "allocations": "SELECT id, state FROM allocation ORDER BY id",
    "installments": "SELECT id, state FROM installment ORDER BY id",
    "approvals": "SELECT count(*) FROM approval",
    "evaluations": "SELECT id, state FROM evaluation ORDER BY id",
    "years": "SELECT id, is_open FROM fiscal_year ORDER BY id",
    "rules": "SELECT id, active FROM reminder_rule ORDER BY id",
    "roles": "SELECT count(*) FROM role_assignment",
    "delegations": "SELECT count(*) FROM delegation",
}

#: Fields a person can focus and type into (everything but buttons and hidden inputs).
FIELDS = (
    "input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset])"
    ":not([type=image]):not([type=file]):not([disabled]), textarea:not([disabled]),"
    " select:not([disabled])"
)

#: The indexes (in document order) of the forms offering more than one decision: two or more
#: submit buttons (a <button> without a type submits too).
DECISION_FORMS = """() => [...document.forms].flatMap((form, index) => {
  const submits = "button:not([type]), button[type=submit], input[type=submit], input[type=image]";
  return [...form.elements].filter((el) => el.matches(submits)).length >= 2 ? [index] : [];
})"""


def _pages(site: Server) -> dict[str, list[str]]:
    project_id = site.scalar("SELECT id FROM project WHERE code = :c", c=PROJECT_CODE)
    result_id = site.scalar(  # the demo school's own result
        "SELECT r.id FROM step_result r JOIN plan_step s ON s.id = r.step_id "
        "JOIN org_unit u ON u.id = r.unit_id "
        "WHERE s.project_id = :p AND u.code = '5023077101' ORDER BY s.position",
        p=project_id,
    )
    return {
        "officer": [
            "/review",
            "/budget",
            f"/projects/{project_id}",
            f"/projects/{project_id}/edit",
            "/notifications",
            "/notifications/settings",
        ],
        "approver": ["/approvals", "/review", f"/projects/{project_id}"],
        "school": ["/school", f"/results/{result_id}"],
        "evaluator": [
            "/evaluations?year=2566&quarter=3",
            "/evaluations?year=2566&quarter=3&kind=kpi",
        ],
        "admin": [
            "/admin/",
            "/admin/users",
            "/admin/units",
            "/admin/years",
            "/admin/strategy",
            "/admin/reminders",
            "/admin/tokens",
            "/admin/delegations",
        ],
    }


def _snapshot(site: Server) -> dict[str, Any]:
    db_engine = make_engine(site.database_url)
    try:
        with db_engine.connect() as conn:
            return {
                name: [tuple(row) for row in conn.execute(text(sql))]
                for name, sql in SNAPSHOT.items()
            }
    finally:
        db_engine.dispose()


@pytest.fixture(scope="module")
def submitted(
    server: Server,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Two of the demo school's results submitted (through the engine, as the school), so
    the review queue has rows to tick."""
    # The server's own instance (an SQLite run's broker sits beside its database) and queue.
    url = server.database_url
    instance = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite") else None
    env = app_environment(instance or tmp_path_factory.mktemp("enter"), url)
    if "CELERY_KEY_PREFIX" in env:
        env["CELERY_KEY_PREFIX"] = f"tidtam-test-{RUN_ID}-browser:"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app: Flask = create_app({"TESTING": True})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with app.app_context():
        session = db.session
        for position in (3, 4):
            result = school_result(session, "5023077101", position)
            engine.take(
                session,
                user(session, "school"),
                "step_result",
                result.id,
                "submit",
                {"completion": "60", "narrative": "ทำแล้วบางส่วน"},
            )
        session.commit()
        db.session.remove()
    app.extensions["tidtam.db"].dispose()
    yield


def _describe(field: Any) -> str:
    return str(
        field.evaluate(
            "(el) => el.tagName.toLowerCase() + (el.type ? '[type=' + el.type + ']' : '')"
            " + (el.name ? '[name=' + el.name + ']' : '')"
        )
    )


def _press_enter_in_each_field(who: Person, path: str) -> tuple[list[str], list[str]]:
    """On `path`, in every multi-decision form: tick its boxes, focus each field, type, press
    Enter. Returns the fields tried and what each try sent or changed."""
    page = who.page
    tried: list[str] = []
    problems: list[str] = []
    sent: list[Any] = []

    def record(request: Any) -> None:
        if request.method != "GET":
            sent.append(request)

    who.goto(path)
    forms = page.evaluate(DECISION_FORMS)
    for index in forms:
        field_index = -1
        while True:  # counted again on each visit: a wrongly taken decision can remove rows
            field_index += 1
            who.goto(path)
            form = page.locator("form").nth(index)
            if field_index >= form.locator(FIELDS).count():
                break
            for box in form.locator("input[type=checkbox]").all():
                box.check()
            field = form.locator(FIELDS).nth(field_index)
            kind, described = field.evaluate("(el) => el.type"), _describe(field)
            action = form.get_attribute("action")
            tried.append(f"{who.role} {path} {described}")
            before = _snapshot(who.server)
            sent.clear()
            page.on("request", record)
            try:
                field.focus()
                if kind not in ("checkbox", "radio", "select-one", "select-multiple"):
                    field.press("End")
                    page.keyboard.type(" ไม่มีหลักฐาน 12")
                page.keyboard.press("Enter")
                page.wait_for_timeout(700)
            finally:
                page.remove_listener("request", record)
            # Sending the form with no decision is allowed (Enter on a checkbox, in Chromium):
            # the server must refuse it with 400. Anything else sent is a decision taken.
            answers = [(request, request.response()) for request in sent]
            wrong = [
                f"{request.method} {request.url} → {answer and answer.status}"
                for request, answer in answers
                if answer is None or answer.status != 400
            ]
            page.wait_for_load_state("load")
            after = _snapshot(who.server)
            changed = [name for name in SNAPSHOT if before[name] != after[name]]
            if wrong or changed:
                problems.append(
                    f"{who.role} {path}, form {action}, Enter in "
                    f"{described}: sent {wrong}, changed {changed}"
                )
    return tried, problems


def test_enter_in_a_multi_decision_form_takes_no_decision(
    browser: Any,  # noqa: F811
    server: Server,  # noqa: F811
    submitted: None,
) -> None:
    queued = server.scalar("SELECT count(*) FROM step_result WHERE state = 'submitted'")
    assert queued >= 2
    problems: list[str] = []
    covered: list[str] = []
    for role, paths in _pages(server).items():
        who = Person(browser, server, role, axe=None)
        try:
            email = f"{role}@demo.tidtam.local"
            who.goto("/login")
            who.page.fill("#email", email)
            who.page.fill("#password", DEMO_PASSWORDS[email])
            who.page.click("form.card button[type=submit]")
            who.page.wait_for_url(re.compile(r"/(home|school)$"))
            for path in paths:
                tried, found = _press_enter_in_each_field(who, path)
                covered += tried
                problems += found
        finally:
            who.close()
    print("\n".join(["Enter pressed in:", *covered]))
    # The review queue's reason and ticks at least must have been tried, or this could not fail.
    assert "officer /review textarea[type=textarea][name=reason]" in covered, covered
    assert "officer /review input[type=checkbox][name=ids]" in covered, covered
    assert not problems, "\n".join(problems)
