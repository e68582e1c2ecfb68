"""Journeys a person makes, in a real Chromium against a real server (gunicorn) with a real
Celery worker, on a database of the test's own (migrated, demo loaded, committed):

- a school submits a result by keyboard → the officer accepts it → the project's progress rises;
- the officer drafts a project and allocates above the district's limit → endorses → the
  approver approves it, the amount in figures and in words;
- the evaluator scores and publishes a quarter → the owner (the officer) is told in the
  notification centre.

Every page visited is screenshotted at 360 px and 1280 px into $TIDTAM_SCREENSHOTS (default
artifacts/screenshots/), must not scroll sideways at 360 px, and each role's main pages must
pass axe-core with no serious or critical violation.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service.core.db import make_engine
from tests.conftest import DEMO_PASSWORDS, RUN_ID, app_environment, create_database, drop_database
from tests.work_data import PDF
from tests.workers import running_worker

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs both
    pytest.skip(
        "playwright / axe-playwright-python are not installed: pip install -e '.[dev]'",
        allow_module_level=True,
    )

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():  # pragma: no cover - .ci/run installs it
    pytest.skip(
        "Chromium is missing: apt-get install -y chromium (.ci/run does)", allow_module_level=True
    )

pytestmark = [pytest.mark.browser, pytest.mark.worker]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("TIDTAM_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEVERE = ("serious", "critical")
PROJECT_CODE = "50230000-3598"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    database_url: str

    def scalar(self, sql: str, **params: Any) -> Any:
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        finally:
            engine.dispose()


FLASK = [sys.executable, "-m", "flask", "--app", "service"]
#: What each module's server starts from: the migrated schema and the legacy demo.
DEMO_COMMANDS = (["db", "upgrade"], ["demo-data", "--legacy-only"])


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """On SQLite, a database file migrated and loaded with the demo once a run, which each
    module's server copies (the migration and the load cost about 6 s a module); None on
    PostgreSQL, where each server migrates and loads its own database."""
    tmp = tmp_path_factory.mktemp("browser-demo")
    database_url = create_database(tmp, "demo")
    if not database_url.startswith("sqlite"):
        drop_database(database_url)
        return None
    env = {**os.environ, **app_environment(tmp, database_url)}
    for command in DEMO_COMMANDS:
        subprocess.run(FLASK + command, cwd=ROOT, env=env, check=True, capture_output=True)
    return Path(database_url.removeprefix("sqlite:///"))


def _copy_sqlite(source: Path, target: Path) -> None:
    """`source` copied whole (its write-ahead log included) through SQLite's backup."""
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_file: Path | None) -> Iterator[Server]:
    """gunicorn (as `make web` starts it) and a Celery worker on a database of their own."""
    tmp = tmp_path_factory.mktemp("browser")
    database_url = create_database(tmp, "browser")
    env = app_environment(tmp, database_url)
    if "CELERY_KEY_PREFIX" in env:
        env["CELERY_KEY_PREFIX"] = f"tidtam-test-{RUN_ID}-browser:"  # its own queue in Redis
    full_env = {**os.environ, **env}
    try:
        if demo_file is not None:
            _copy_sqlite(demo_file, Path(database_url.removeprefix("sqlite:///")))
        else:
            for command in DEMO_COMMANDS:
                subprocess.run(
                    FLASK + command, cwd=ROOT, env=full_env, check=True, capture_output=True
                )
        port = _free_port()
        log = (tmp / "web.log").open("wb")
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "service:create_app()",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            queues = "notifications,deadlines,rollups,celery"  # every queue tasks go to
            with running_worker(env, queues=queues, log=tmp / "worker.log"):
                for _ in range(150):
                    try:
                        with urllib.request.urlopen(base + "/healthz", timeout=2):
                            break
                    except OSError:
                        time.sleep(0.2)
                else:
                    pytest.fail((tmp / "web.log").read_text()[-3000:])
                yield Server(base, database_url)
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
            log.close()
    finally:
        drop_database(database_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


class Person:
    """One person's browser tab: signs in, visits pages, photographs and checks them."""

    def __init__(self, browser: Browser, server: Server, role: str, axe: Axe) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page: Page = self.context.new_page()
        self.server = server
        self.role = role
        self.axe = axe
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def goto(self, path: str) -> Page:
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        return self.page

    def sign_in(self) -> None:
        email = f"{self.role}@demo.tidtam.local"
        self.goto("/login")
        self.page.fill("#email", email)
        self.page.fill("#password", DEMO_PASSWORDS[email])
        self.page.click("form.card button[type=submit]")
        self.page.wait_for_url(re.compile(r"/(home|school)$"))

    def shoot(self, name: str, *, accessible: bool = False) -> None:
        """Screenshots at 360 and 1280 px; no sideways scrolling at 360; axe at both if asked."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width in (360, 1280):
            self.page.set_viewport_size({"width": width, "height": 900})
            shot = SHOTS / f"{self.role}-{name}-{width}.png"
            self.page.screenshot(path=str(shot), full_page=True)
            if width == 360:
                overflow = self.page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at 360 px"
            if accessible:
                result = self.axe.run(self.page)
                severe = [
                    f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
                    for v in result.response["violations"]
                    if v["impact"] in SEVERE
                ]
                assert not severe, f"{self.role} {name} at {width} px: {severe}"
        assert not self.errors, self.errors

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(browser: Browser, server: Server, axe: Axe) -> Iterator[Any]:
    people: list[Person] = []

    def make(role: str) -> Person:
        who = Person(browser, server, role, axe)
        people.append(who)
        return who

    yield make
    for who in people:
        who.close()


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _progress(person: Person, project_id: int) -> str:
    person.goto(f"/projects/{project_id}?lang=en")
    match = re.search(r"Progress</dt><dd><strong>([\d.]+)</strong>", person.page.content())
    assert match, "no progress on the project page"
    return match.group(1)


def test_school_submits_the_officer_accepts_and_progress_rises(person: Any, server: Server) -> None:
    project_id = server.scalar("SELECT id FROM project WHERE code = :c", c=PROJECT_CODE)
    officer = person("officer")
    officer.sign_in()
    before = _progress(officer, project_id)
    assert before == "20.00"

    school = person("school")
    # Keyboard only: Tab through the login form and submit with Enter.
    school.goto("/login")
    school.shoot("login", accessible=True)
    _tab_to(school.page, "#email")
    school.page.keyboard.type("school@demo.tidtam.local")
    school.page.keyboard.press("Tab")
    assert school.page.evaluate("document.activeElement.id") == "password"
    school.page.keyboard.type(DEMO_PASSWORDS["school@demo.tidtam.local"])
    school.page.keyboard.press("Enter")
    school.page.wait_for_url(re.compile(r"/school$"))
    school.shoot("home", accessible=True)

    school.page.locator('section[aria-labelledby="h-overdue"] a').first.click()
    school.page.wait_for_url(re.compile(r"/results/\d+$"))
    result_url = school.page.url
    school.shoot("result-form", accessible=True)
    school.page.set_input_files(
        "#files", files=[{"name": "รายงานผล.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    # Keyboard only again: reach the fields and the form's main action.
    _tab_to(school.page, "#completion")
    school.page.keyboard.type("100")
    school.page.keyboard.press("Tab")
    school.page.keyboard.type("จัดประชุมครูครบทั้งเครือข่าย")
    _tab_to(school.page, "#result-form button[type=submit]")
    school.page.keyboard.press("Enter")
    school.page.wait_for_selector('[data-testid="state"] .badge.submitted')
    assert school.page.url == result_url
    # One current file, downloadable (its withdraw and replace controls name it too).
    assert (
        school.page.locator("li[data-evidence] > a[download]", has_text="รายงานผล.pdf").count() == 1
    )
    school.shoot("result-submitted")

    officer.goto("/review")
    officer.shoot("review", accessible=True)
    row = officer.page.locator("tr[data-result]").first
    row.locator("button[value^='accept:']").click()
    officer.page.wait_for_selector(".flash")
    officer.shoot("review-after")
    after = _progress(officer, project_id)
    officer.shoot("project-page")
    assert float(after) > float(before)


def test_officer_allocates_above_the_limit_and_the_approver_approves(
    person: Any, server: Server
) -> None:
    officer = person("officer")
    officer.sign_in()
    officer.goto("/projects/new")
    page = officer.page
    page.fill("#code", "50230700-0001")
    page.select_option("#fiscal_year_id", label="2566")  # its steps fall in FY 2566
    page.fill("#name", "โครงการห้องสมุดเคลื่อนที่")
    page.fill("#approved_budget", "100000")
    page.fill("#step-1-name", "จัดซื้อหนังสือ")
    page.fill("#step-1-weight", "60")
    assert page.locator("#weights-total").inner_text() == "60"  # the live total
    assert "60" in page.locator("#weights-problem").inner_text()
    officer.shoot("project-new", accessible=True)
    page.fill("#step-1-start", "1/10/2565")  # typed in the Buddhist Era
    page.fill("#step-1-end", "31 ธ.ค. 2565")
    page.click("#project-form > button[type=submit]")
    page.wait_for_url(re.compile(r"/projects/\d+/edit$"))
    assert page.locator("#step-1-start").input_value() == "1/10/2565"
    assert page.locator("#step-1-end").input_value() == "31/12/2565"
    officer.shoot("project-edit", accessible=True)
    assert page.locator('[data-refused="submit"]').count() == 1  # weights sum to 60

    officer.goto("/budget")
    for select, shown in (("#project_id", "50230700-0001"), ("#recipient_unit_id", "เครือข่าย 71")):
        value = page.locator(f"{select} option", has_text=shown).get_attribute("value")
        page.select_option(select, value=value)
    page.fill("#amount", "60000")
    page.fill("#purpose", "หนังสือสำหรับเครือข่าย 71")
    page.locator("form[action$='/budget/allocations'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"#allocation-\d+$"))
    allocation_id = int(page.url.rsplit("-", 1)[1])
    article = page.locator(f"#allocation-{allocation_id}")
    article.locator("form[data-action=submit] button").click()
    page.wait_for_selector(f"#allocation-{allocation_id} form[data-action=endorse]")
    assert article.locator("[data-refused=approve]").count() == 1  # above the officer's limit
    officer.shoot("budget", accessible=True)
    article.locator("form[data-action=endorse] button").click()
    page.wait_for_selector(".flash")

    approver = person("approver")
    approver.sign_in()
    approver.goto("/approvals")
    card = approver.page.locator(f"article[data-allocation='{allocation_id}']")
    assert "60,000.00" in card.locator("[data-testid=amount]").inner_text()
    assert card.locator("[data-testid=words]").inner_text() == "หกหมื่นบาทถ้วน"
    approver.shoot("approvals", accessible=True)
    card.locator("form[data-action=approve] button").click()
    approver.page.wait_for_selector(".flash")
    assert approver.page.locator(f"article[data-allocation='{allocation_id}']").count() == 0
    state = server.scalar("SELECT state FROM allocation WHERE id = :i", i=allocation_id)
    assert state == "approved"


def test_evaluator_publishes_and_the_owner_is_told(person: Any, server: Server) -> None:
    evaluator = person("evaluator")
    evaluator.sign_in()
    project_id = server.scalar("SELECT id FROM project WHERE code = :c", c=PROJECT_CODE)
    evaluator.goto("/evaluations?year=2566&quarter=3")
    section = evaluator.page.locator(f"#project-{project_id}")
    section.locator("input[name=score]").fill("95")
    section.locator("input[name=sub_score_1]").fill("90")
    section.locator("input[name=sub_score_2]").fill("100")
    section.locator("input[name=comment]").fill("ดำเนินการตามแผน")
    section.locator("form[action$='/evaluations/score'] button").click()
    evaluator.page.wait_for_selector(f"#project-{project_id} form[data-action=publish]")
    evaluator.shoot("evaluations", accessible=True)
    evaluator.page.locator(f"#project-{project_id} form[data-action=publish] button").click()
    evaluator.page.wait_for_selector(f"#project-{project_id} .badge.published")
    kpi_id = server.scalar("SELECT id FROM kpi WHERE code = '5023-6525'")
    evaluator.goto(f"/kpis/{kpi_id}")
    evaluator.shoot("kpi", accessible=True)

    officer = person("officer")
    officer.sign_in()
    deadline = time.monotonic() + 45
    while True:  # the worker relays the event and writes the notification
        officer.goto("/notifications")
        if officer.page.locator("li[data-kind='evaluation.publish']").count():
            break
        assert time.monotonic() < deadline, "no evaluation.publish notification in 45 s"
        time.sleep(1)
    officer.shoot("notifications", accessible=True)


def test_admin_pages_render_and_pass_axe(person: Any) -> None:
    admin = person("admin")
    admin.sign_in()
    for path, name in (
        ("/admin/", "admin"),
        ("/admin/users", "admin-users"),
        ("/admin/units", "admin-units"),
        ("/admin/tokens", "admin-tokens"),
        ("/admin/reminders", "admin-reminders"),
    ):
        admin.goto(path)
        admin.shoot(name, accessible=True)


def _disclosure(page: Page, name: str) -> dict[str, Any]:
    """The states Chromium gives a screen reader for the disclosure button named `name`."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    for node in nodes:
        role = node.get("role", {}).get("value")
        if role == "DisclosureTriangle" and node.get("name", {}).get("value") == name:
            return {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
    raise AssertionError(f"no disclosure button named {name}")


def test_phone_bar_is_compact_and_its_menu_opens_with_the_keyboard(person: Any) -> None:
    """At 360 px the bar is one line with a menu button (a <details>, no script needed); the
    keyboard opens it and follows a link. At 1280 px the menu shows without the button."""
    officer = person("officer")
    officer.sign_in()
    page = officer.page
    page.set_viewport_size({"width": 360, "height": 780})
    officer.goto("/dashboard")
    box = page.locator("header.topbar").bounding_box()
    assert box is not None and box["height"] <= 64, box
    menu = page.get_by_role("navigation", name="เมนูหลัก")
    button = page.locator(".bar-menu > summary")
    assert _disclosure(page, "เมนู") == {"focusable": True, "expanded": False}
    assert not menu.is_visible()
    assert page.locator(".bar-menu[open]").count() == 0

    _tab_to(page, ".bar-menu > summary")
    page.keyboard.press("Enter")
    assert menu.is_visible()
    assert page.locator(".bar-menu[open]").count() == 1
    assert _disclosure(page, "เมนู") == {"focusable": True, "focused": True, "expanded": True}
    box = page.locator("header.topbar").bounding_box()
    assert box is not None and box["height"] <= 64, "the open menu lies over the page"
    _tab_to(page, "nav.menu a[href='/review']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/review$"))
    button.click()
    officer.shoot("menu-open", accessible=True)  # axe on the open menu, at both widths

    page.set_viewport_size({"width": 1280, "height": 900})
    officer.goto("/dashboard")
    assert menu.is_visible()
    assert not button.is_visible()
    box = page.locator("header.topbar").bounding_box()
    assert box is not None and box["height"] <= 64, box


@pytest.mark.parametrize("role", ["school", "approver"])
def test_the_bell_shows_at_360_px_without_opening_the_menu(person: Any, role: str) -> None:
    """The notification centre's bell stays in the one-line bar on a phone, outside the
    folded menu, and leads to the centre."""
    someone = person(role)
    someone.sign_in()
    page = someone.page
    page.set_viewport_size({"width": 360, "height": 780})
    someone.goto("/notifications/settings")
    bell = page.locator("header.topbar a.bell")
    assert bell.is_visible()
    assert page.locator(".bar-menu[open]").count() == 0
    box = page.locator("header.topbar").bounding_box()
    assert box is not None and box["height"] <= 64, box
    bell_box = bell.bounding_box()
    assert bell_box is not None and bell_box["x"] + bell_box["width"] <= 360
    someone.shoot("bell")
    bell.click()
    page.wait_for_url(re.compile(r"/notifications$"))


def test_the_print_view_reads_on_a_phone(person: Any, server: Server) -> None:
    """The A4 print view opened on a phone (to read, share or save as PDF): one column, the
    facts readable, nothing wider than the screen; paper keeps its A4 layout."""
    someone = person("approver")
    someone.sign_in()
    project_id = server.scalar("SELECT id FROM project WHERE code = :code", code=PROJECT_CODE)
    page = someone.page
    page.set_viewport_size({"width": 360, "height": 780})
    for path in (f"/projects/{project_id}/print", f"/public/projects/{project_id}/print"):
        someone.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 360 px"
        # The facts stand under the gauge, each value under its name, not a word a line.
        facts = page.locator("dl.facts").first.bounding_box()
        assert facts is not None and facts["width"] >= 280, facts
    page.screenshot(path=str(SHOTS / "approver-print-360.png"), full_page=True)
    assert not someone.errors, someone.errors
