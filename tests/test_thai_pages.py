"""Every page of every role, in Thai: no raw key (`allocation.endorse`, `district_office`,
`deadline.step_overdue`) and no English string of the catalog that has a Thai translation.

The walk GETs every rule of the URL map that needs no argument, and the main pages with the
demo's ids (the project, its history and print view, a step result, a KPI, the project
editor), signed out and signed in as each demo role."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.kpis.models import Kpi
from service.org.models import OrgUnit
from service.projects.models import Project, StepResult
from tests.conftest import DEMO_PASSWORDS, login
from tests.html_text import strings
from tests.test_i18n import IDENTIFIERS_SHOWN, NOT_PAGES, PO, _english_patterns

ROLES = ["anonymous", "school", "officer", "approver", "evaluator", "admin"]
# A key as code names it: snake_case words, or dotted words (`allocation.endorse`).
RAW_KEY = re.compile(
    r"(?<![\w.@/:-])(?:[a-z]+(?:_[a-z]+)+|[a-z_]+\.[a-z_]+(?:\.[a-z_]+)*)(?![\w@/-]|\.\w)"
)
# Addresses and paths people are shown on purpose: e-mail addresses, links, file names.
NOT_KEYS = re.compile(r"\S+@\S+|https?://\S+|\S+\.(?:pdf|csv|xlsx|docx|png|jpg|js|css|svg)\b")


def raw_keys(text: str) -> list[str]:
    """The internal keys in a string a person reads."""
    return RAW_KEY.findall(NOT_KEYS.sub(" ", text))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with PO.open("rb") as source:
        return read_po(source, locale="th")


def _demo_ids(session: Session) -> dict[str, int]:
    project = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert project is not None
    school = session.scalar(select(OrgUnit).where(OrgUnit.code == "5023077101"))
    assert school is not None
    result = session.scalar(
        select(StepResult)
        .where(StepResult.unit_id == school.id)
        .join(StepResult.step)
        .where(StepResult.step.has(project_id=project.id))
    )
    kpi = session.scalar(select(Kpi).order_by(Kpi.id))
    assert result is not None and kpi is not None
    return {"project_id": project.id, "result_id": result.id, "kpi_id": kpi.id}


def _paths(app: Flask, ids: dict[str, int]) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if not set(rule.arguments) <= set(ids):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", str(ids[name]), path)
        if NOT_PAGES.search(path) or IDENTIFIERS_SHOWN.search(path):
            continue
        paths.append(path)
    return sorted(set(paths))


def _pages(app: Flask, paths: list[str]) -> Iterator[tuple[str, str, str]]:
    """(role, path, HTML) of each Thai page that answers 200 to each role."""
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            email = f"{role}@demo.tidtam.local"
            login(client, email, DEMO_PASSWORDS[email])
        for path in paths:
            response = client.get(path, query_string={"lang": "th"})
            if response.status_code == 200 and response.mimetype == "text/html":
                yield role, path, response.get_data(as_text=True)


def test_raw_keys_are_found() -> None:
    """The detector itself: keys are caught, addresses and Thai are not."""
    assert raw_keys("ประเภท district_office") == ["district_office"]
    assert raw_keys("deadline.step_overdue") == ["deadline.step_overdue"]
    assert raw_keys("allocation.endorse ทันที") == ["allocation.endorse"]
    assert raw_keys("officer@demo.tidtam.local ไฟล์ plan.pdf 1,000.00 บาท") == []


def test_no_raw_key_or_english_on_any_thai_page(
    app: Flask, session: Session, catalog: Catalog
) -> None:
    ids = _demo_ids(session)
    paths = _paths(app, ids)
    assert f"/projects/{ids['project_id']}" in paths and f"/results/{ids['result_id']}" in paths
    assert "/notifications/settings" in paths and "/admin/units" in paths
    patterns = _english_patterns(catalog)
    keys: list[str] = []
    english: list[str] = []
    pages = 0
    for role, path, html in _pages(app, paths):
        pages += 1
        for text in strings(html):
            keys.extend(f"{role} {path}: {key!r} in {text[:80]!r}" for key in raw_keys(text))
            english.extend(
                f"{role} {path}: {msgid!r} in {text[:80]!r}"
                for msgid, pattern in patterns
                if pattern.search(text)
            )
    assert pages >= len(ROLES) * 5
    problems = [("raw keys on Thai pages", keys), ("English on Thai pages", english)]
    report = "\n\n".join(
        f"{title}:\n" + "\n".join(sorted(set(items))) for title, items in problems if items
    )
    assert not report, report
