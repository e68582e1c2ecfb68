"""Thai and English everywhere: the catalog covers every UI string in the code, the compiled
catalog is current, and every page of the URL map renders in both languages for every role,
with no English left on a Thai page, no server error, and the security headers on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import get_domain
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.i18n import TRANSLATIONS, stale_catalogs
from service.projects.models import Project
from tests.conftest import DEMO_PASSWORDS, login
from tests.html_text import strings

ROOT = Path(__file__).resolve().parent.parent
PO = TRANSLATIONS / "th" / "LC_MESSAGES" / "messages.po"
ROLES = ["anonymous", "school", "officer", "approver", "evaluator", "admin"]
# Not pages: the JSON API (its own contract, English field names), health probes, downloads.
NOT_PAGES = re.compile(r"^/(api/|healthz)|\.(pdf|json)$")
# Names, not words: the brand is shown in both scripts on purpose.
PROPER_NAMES = {"Tidtam"}
# Developer documentation drawn from the workflow tables shows state identifiers as they are.
IDENTIFIERS_SHOWN = re.compile(r"^/docs/")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with PO.open("rb") as source:
        return read_po(source, locale="th")


def _translated(message: Any) -> bool:
    strings_ = message.string if isinstance(message.string, list | tuple) else [message.string]
    return all(s and s.strip() for s in strings_)


def source_messages() -> Iterator[tuple[str, int, str | tuple[str, ...]]]:
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update({"_l": None, "lazy_gettext": None})
    method_map = [("service/**.py", "python"), ("templates/**.html", "jinja2")]
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        if not filename.startswith(("service/", "templates/")):
            continue
        yield filename, lineno, message


def test_every_string_in_the_code_has_a_thai_translation(catalog: Catalog) -> None:
    missing = []
    for filename, lineno, message in source_messages():
        msgid = message if isinstance(message, str) else message[0]
        found = catalog.get(msgid)
        if found is None or not _translated(found):
            missing.append(f"{filename}:{lineno}: {msgid!r}")
    assert not missing, (
        "UI strings without Thai (run `make messages`, then translate them in "
        f"{PO.relative_to(ROOT)}):\n" + "\n".join(sorted(set(missing)))
    )


def test_the_compiled_catalog_is_current() -> None:
    assert not stale_catalogs(), (
        "the .mo is older than the .po: run `make install` (or python -m service.core.i18n)"
    )


def test_no_message_is_defined_twice() -> None:
    # Babel keeps the last of two definitions silently; GNU msgfmt refuses the file.
    msgids = re.findall(r'^msgid "(.*)"$', PO.read_text(encoding="utf-8"), flags=re.MULTILINE)
    twice = sorted({m for m in msgids if m and msgids.count(m) > 1})
    assert not twice, f"defined more than once in {PO.name}: {twice}"


def test_catalog_placeholders_match(catalog: Catalog) -> None:
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        texts = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set(placeholder.findall(ids[-1]))
        for text in texts:
            assert set(placeholder.findall(text)) == wanted, message.id


# -- the walk -------------------------------------------------------------------------------


def _english_patterns(catalog: Catalog) -> list[tuple[str, re.Pattern[str]]]:
    """For each msgid whose Thai differs: a pattern matching a string of the page that is the
    msgid (placeholders filled in), or that starts with it as a label does ("Progress: …")."""
    patterns = []
    for message in catalog:
        if not message.id:
            continue
        for msgid in [message.id] if isinstance(message.id, str) else list(message.id):
            thai = message.string if isinstance(message.string, str) else message.string[0]
            if msgid == thai or msgid in PROPER_NAMES or not re.search("[A-Za-z]{2}", msgid):
                continue
            parts = re.split(r"%\(\w+\)[sd]|%%", msgid)
            body = ".+?".join(re.escape(part) for part in parts)
            patterns.append((msgid, re.compile(rf"^{body}(?:$|\s?[:·(])")))
    return patterns


def _targets(app: Flask, project_id: int) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if rule.arguments and rule.arguments != {"project_id"}:
            continue
        path = rule.rule.replace("<int:project_id>", str(project_id))
        if NOT_PAGES.search(path):
            continue
        paths.append(path)
    return sorted(set(paths))


class MissingTranslations:
    """Records every string a Thai page asked for that the Thai catalog does not translate."""

    def __init__(self) -> None:
        self.found: dict[str, set[str]] = {}
        self.path = ""

    def wrap(self, translations: Any, method: str) -> Any:
        """`method` (Flask-Babel's ugettext or ungettext) of `translations`, recording misses."""
        original = getattr(translations, method)
        catalog = translations._catalog
        plural = method == "ungettext"

        def recording(*args: Any) -> Any:
            msgid = args[0]
            key = (msgid, 0) if plural else msgid
            if not catalog.get(key):
                self.found.setdefault(str(msgid), set()).add(self.path)
            return original(*args)

        return recording


def test_every_page_renders_in_thai_and_english_for_every_role(
    app: Flask, session: Session, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert project is not None
    paths = _targets(app, project.id)
    assert "/dashboard" in paths and f"/projects/{project.id}" in paths
    assert "/public/projects" in paths

    # The Thai translations the app uses, instrumented to record each miss.
    with app.test_request_context("/?lang=th"):
        translations = get_domain().get_translations()
    assert translations._catalog, "the Thai catalog is empty: is the .mo compiled?"
    missing = MissingTranslations()
    # Flask-Babel asks through these two, from Python and from templates alike.
    for method in ("ugettext", "ungettext"):
        monkeypatch.setattr(translations, method, missing.wrap(translations, method))

    patterns = _english_patterns(catalog)
    errors: list[str] = []
    english_left: list[str] = []
    pages = 0
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            email = f"{role}@demo.tidtam.local"
            login(client, email, DEMO_PASSWORDS[email])
        for lang in ("th", "en"):
            for path in paths:
                missing.path = f"{role} {lang} {path}"
                response = client.get(f"{path}?lang={lang}")
                pages += 1
                if response.status_code >= 500:
                    errors.append(f"{response.status_code} {role} {lang} {path}")
                if "frame-ancestors 'none'" not in response.headers.get(
                    "Content-Security-Policy", ""
                ):
                    errors.append(f"no CSP on {role} {lang} {path}")
                if lang != "th" or response.mimetype != "text/html" or response.status_code != 200:
                    continue
                body = response.get_data(as_text=True)
                assert 'lang="th"' in body, path
                if IDENTIFIERS_SHOWN.search(path):
                    continue
                for text in strings(body):
                    for msgid, pattern in patterns:
                        if pattern.search(text):
                            english_left.append(f"{role} {path}: {msgid!r} in {text[:80]!r}")
    assert pages >= len(ROLES) * 2 * 10
    thai_misses = [
        f"{msgid!r} (e.g. {sorted(where)[0]})"
        for msgid, where in sorted(missing.found.items())
        if any(w.split()[1] == "th" for w in where)
    ]
    problems = [
        ("server errors or missing headers", errors),
        ("strings without Thai that Thai pages asked for", thai_misses),
        ("English left on Thai pages", sorted(set(english_left))),
    ]
    report = "\n\n".join(f"{title}:\n" + "\n".join(items) for title, items in problems if items)
    assert not report, report
