"""A quarter in a district office, in a real Chromium, in Thai, at 360 and 1280 px (issue 14 §4).

One journey on the living demo district, against gunicorn, a real Celery worker and a real
SMTP server: the officer plans a project (steps added in place, Buddhist Era dates), the
approver locks it, budget is allocated and paid in installments under four eyes (a deputy
acting for the approver approves one), two schools report with evidence and one withdraws a
wrong file, the officer returns one result and accepts the rest, progress and the S-curve
move, the overdue alerts arrive as one digest mail, the evaluator scores and publishes, the
public page and the PDF show it, and every list downloads. Each role signs in twice.

Every page it sees fails the journey on a console error, a 4xx/5xx answer it did not ask
for, English text of the catalog or a raw key. Screenshots go to $TIDTAM_SCREENSHOTS/quarter
(default build/screenshots/quarter/), numbered in the journey's order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from service.core.fiscal import fiscal_year_of, local_today, quarter_of
from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS, Server, _free_port
from tests.conftest import DEMO_PASSWORDS, RUN_ID, app_environment, create_database, drop_database
from tests.html_text import strings
from tests.smtp import MailSink, mail_sink
from tests.stack import make_app
from tests.test_i18n import PO, _english_patterns
from tests.test_thai_pages import raw_keys
from tests.work_data import PDF
from tests.workers import running_worker

try:
    from playwright.sync_api import Browser, Page, Response, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.worker]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("TIDTAM_SCREENSHOTS") or ROOT / "build" / "screenshots") / "quarter"
PASSWORDS = {
    **DEMO_PASSWORDS,
    "school2@demo.tidtam.local": "demo-school2-2566",
    "deputy@demo.tidtam.local": "demo-deputy-2566",
}
CODE = "50230000-9901"
NAME = "โครงการห้องเรียนวิทยาศาสตร์เคลื่อนที่"


def _be(day: date) -> str:
    """A day as a Thai clerk types it: d/m/yyyy in the Buddhist Era."""
    return f"{day.day}/{day.month}/{day.year + 543}"


@dataclass
class Site(Server):
    mail: MailSink = field(default_factory=MailSink)
    env: dict[str, str] = field(default_factory=dict)

    def send_task(self, name: str) -> None:
        """Send a task to the worker as beat does."""
        app = make_app(self.env)
        with app.app_context():
            app.extensions["celery"].send_task(name, ignore_result=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """gunicorn and a Celery worker on a database with the whole demo (the living district),
    mailing to an SMTP server of the test's own."""
    tmp = tmp_path_factory.mktemp("quarter")
    database_url = create_database(tmp, "quarter")
    with mail_sink() as mail:
        env = app_environment(tmp, database_url)
        if "CELERY_KEY_PREFIX" in env:
            env["CELERY_KEY_PREFIX"] = f"tidtam-test-{RUN_ID}-quarter:"
        env.update(mail.env())
        full_env = {**os.environ, **env}
        flask = [sys.executable, "-m", "flask", "--app", "service"]
        try:
            for command in (["db", "upgrade"], ["demo-data"]):
                subprocess.run(
                    flask + command, cwd=ROOT, env=full_env, check=True, capture_output=True
                )
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            env["PUBLIC_URL"] = full_env["PUBLIC_URL"] = base
            log = (tmp / "web.log").open("wb")
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                 "2", "service:create_app()"],
                cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                queues = "notifications,deadlines,rollups,celery"
                with running_worker(env, queues=queues, log=tmp / "worker.log"):
                    for _ in range(150):
                        try:
                            with urllib.request.urlopen(base + "/healthz", timeout=2):
                                break
                        except OSError:
                            time.sleep(0.2)
                    else:
                        pytest.fail((tmp / "web.log").read_text()[-3000:])
                    yield Site(base, database_url, mail, env)
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
def english() -> list[tuple[str, re.Pattern[str]]]:
    with PO.open("rb") as source:
        return _english_patterns(read_po(source, locale="th"))


class Clerk:
    """One person's tab. Every answer of 400 and more that was not expected, every console
    error and every Thai page holding English or a raw key is a problem of the journey."""

    shots = 0

    def __init__(self, browser: Browser, site: Site, email: str, english: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="th-TH")
        self.context.set_default_timeout(20_000)
        self.page: Page = self.context.new_page()
        self.site, self.email, self.english = site, email, english
        self.name = email.split("@")[0]
        self.problems: list[str] = []
        self.expected: set[int] = set()
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A refused resource logs its status too; the response check judges those.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.expected:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def goto(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.page

    def sign_in(self) -> None:
        self.goto("/login")
        self.page.fill("#email", self.email)
        self.page.fill("#password", PASSWORDS[self.email])
        self.page.click("form.card button[type=submit]")
        self.page.wait_for_url(re.compile(r"/(home|school)$"))

    def sign_out(self) -> None:
        # The button sits in the phone's folded menu: the form is sent as the button would.
        with self.page.expect_navigation():
            self.page.locator("form[action$='/logout'] button").first.evaluate(
                "b => b.form.submit()"
            )
        self.page.wait_for_url(re.compile(r"/login$"))

    def look(self, name: str) -> None:
        """Screenshots at 360 and 1280 px, and the page read as a Thai reader reads it."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        Clerk.shots += 1
        for width in (360, 1280):
            self.page.set_viewport_size({"width": width, "height": 900})
            shot = SHOTS / f"{Clerk.shots:02d}-{self.name}-{name}-{width}.png"
            # A phone's first screen at 360 px (a whole list is tens of screens long there);
            # the whole page at 1280.
            self.page.screenshot(path=str(shot), full_page=width == 1280)
            if width == 360:
                overflow = self.page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 1:
                    self.problems.append(f"{name} scrolls sideways by {overflow}px at 360 px")
        html = self.page.content()
        where = f"{self.name} {name} ({self.page.url})"
        for text in strings(html):
            self.problems.extend(
                f"{where}: raw key {key!r} in {text[:80]!r}" for key in raw_keys(text)
            )
            self.problems.extend(
                f"{where}: English {msgid!r} in {text[:80]!r}"
                for msgid, pattern in self.english
                if pattern.search(text)
            )
        assert not self.problems, "\n".join(self.problems)

    def flash(self) -> str:
        return self.page.locator(".flash").first.inner_text()

    def close(self) -> None:
        self.context.close()


def _act(clerk: Clerk, scope: str, action: str, **inputs: str) -> None:
    """Press the `action` button of the actions in `scope`, filling its inputs first."""
    form = clerk.page.locator(f"{scope} form[data-action={action}]").first
    for name, value in inputs.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    clerk.page.wait_for_load_state()


def _downloads(clerk: Clerk) -> int:
    """Fetch each CSV and Excel link of the page with the tab's cookies: each answers 200
    with a file of its kind. Returns how many it fetched."""
    links = clerk.page.locator("a[href*='format=csv'], a[href*='format=xlsx']")
    hrefs = {links.nth(i).get_attribute("href") or "" for i in range(links.count())}
    for href in hrefs:
        answer = clerk.context.request.get(clerk.site.url + href if href.startswith("/") else href)
        assert answer.status == 200, (href, answer.status)
        kind = answer.headers.get("content-type", "")
        assert ("csv" in kind) if "csv" in href else ("spreadsheet" in kind), (href, kind)
        assert answer.body(), href
    return len(hrefs)


def _result_url(site: Site, project_id: int, position: int, email: str) -> str:
    ident = site.scalar(
        "SELECT r.id FROM step_result r JOIN plan_step s ON s.id = r.step_id"
        " JOIN role_assignment a ON a.unit_id = r.unit_id JOIN app_user u ON u.id = a.user_id"
        " WHERE s.project_id = :p AND s.position = :n AND u.email = :e",
        p=project_id,
        n=position,
        e=email,
    )
    assert ident, (project_id, position, email)
    return f"/results/{ident}"


def test_a_quarter_in_the_office(browser: Browser, site: Site, english: Any) -> None:
    started = time.monotonic()
    people: dict[str, Clerk] = {}

    def clerk(role: str) -> Clerk:
        email = f"{role}@demo.tidtam.local"
        if role not in people:
            people[role] = Clerk(browser, site, email, english)
        return people[role]

    today = local_today()
    be_year = fiscal_year_of(today)
    try:
        _journey(clerk, site, today, be_year)
    finally:
        for person in people.values():
            person.close()
    # The whole journey's time, for the report (asked: under about three minutes).
    print(f"\nquarter journey: {time.monotonic() - started:.0f} s, screenshots in {SHOTS}")


def _journey(clerk: Any, site: Site, today: date, be_year: int) -> None:
    # ---- 1. The officer plans the project: steps added in place, Buddhist Era dates.
    officer = clerk("officer")
    officer.sign_in()
    page = officer.goto("/projects/new")
    year_id = site.scalar("SELECT id FROM fiscal_year WHERE be_year = :y", y=be_year)
    page.select_option("#fiscal_year_id", value=str(year_id))
    page.fill("#code", CODE)
    page.fill("#name", NAME)
    page.fill("#approved_budget", "120000")
    page.fill("#rationale", "นักเรียนในเครือข่ายขาดอุปกรณ์การทดลองวิทยาศาสตร์")
    page.fill("#objective-1", "เพื่อให้นักเรียนได้ทดลองวิทยาศาสตร์ด้วยตนเอง")
    year_start = date(today.year if today.month >= 10 else today.year - 1, 10, 1)
    day = timedelta(days=1)
    plan = [
        ("ขออนุมัติโครงการและเงินประจำงวด", "20", year_start, today - 5 * day),
        ("จัดกิจกรรมวิทยาศาสตร์ในโรงเรียน", "50", today - 10 * day, today + 20 * day),
        ("สรุปและรายงานผล", "30", today + 21 * day, today + 60 * day),
    ]
    rows = page.locator("#steps-table tbody tr").count()
    while rows < len(plan):
        page.click("#add-step")
        rows += 1
    for n, (name, weight, start, end) in enumerate(plan, start=1):
        page.fill(f"#step-{n}-name", name)
        page.fill(f"#step-{n}-weight", weight)
        page.fill(f"#step-{n}-start", _be(start))
        page.fill(f"#step-{n}-end", _be(end))
    assert page.text_content("#weights-total") == "100"
    officer.look("plan-new")
    page.click("#project-form > button[type=submit]")
    page.wait_for_url(re.compile(r"/projects/\d+/edit$"))
    project_id = int(page.url.split("/")[-2])
    assert page.locator("#step-2-start").input_value() == _be(plan[1][2])
    # The schools that report the activity step.
    for school in ("5023077101", "5023077201"):
        step_id = site.scalar(
            "SELECT id FROM plan_step WHERE project_id = :p AND position = 2", p=project_id
        )
        unit_id = site.scalar("SELECT id FROM org_unit WHERE code = :c", c=school)
        page.select_option(f"#assign-{step_id}", value=str(unit_id))
        page.locator(f"form[action$='/steps/{step_id}/assign'] button").click()
        page.wait_for_load_state()
    officer.look("plan-saved")
    _act(officer, "", "submit")
    assert site.scalar("SELECT state FROM project WHERE id = :p", p=project_id) == "submitted"
    officer.sign_out()

    # ---- 2. The approver locks the plan.
    approver = clerk("approver")
    approver.sign_in()
    approver.goto(f"/projects/{project_id}")
    approver.look("plan-to-lock")
    _act(approver, "", "lock")
    assert site.scalar("SELECT state FROM project WHERE id = :p", p=project_id) == "locked"

    # ---- 3. Budget under four eyes: the officer allocates, the approver approves.
    officer.sign_in()  # the officer's second sign-in
    page = officer.goto("/budget")
    page.select_option("#project_id", value=str(project_id))
    network = site.scalar("SELECT id FROM org_unit WHERE code = '50230771'")
    page.select_option("#recipient_unit_id", value=str(network))
    page.fill("#amount", "40000")
    page.fill("#purpose", "อุปกรณ์การทดลองสำหรับเครือข่าย 71")
    page.locator("form[action$='/budget/allocations'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"#allocation-\d+$"))
    allocation_id = int(page.url.rsplit("-", 1)[1])
    card = f"#allocation-{allocation_id}"
    _act(officer, card, "submit")
    # Whoever prepared it does not approve it.
    assert page.locator(f"{card} [data-refused=approve]").count() == 1
    officer.look("budget-submitted")

    # Within the officer's limit one approval by another person is enough: on the budget page.
    approver.goto("/approvals")
    approver.look("approvals")
    approver.goto("/budget")
    _act(approver, card, "approve")
    assert site.scalar("SELECT state FROM allocation WHERE id = :a", a=allocation_id) == "approved"

    # Two installments requested by the officer.
    page = officer.goto("/budget")
    for amount, purpose in (("15000", "งวดที่ 1"), ("25000", "งวดที่ 2")):
        form = page.locator(f"{card} form[action$='/allocations/{allocation_id}/installments']")
        form.locator("[name=amount]").fill(amount)
        form.locator("[name=purpose]").fill(purpose)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
    installments = [
        site.scalar(
            "SELECT id FROM installment WHERE allocation_id = :a ORDER BY id LIMIT 1 OFFSET :n",
            a=allocation_id,
            n=n,
        )
        for n in range(2)
    ]
    officer.look("installments-requested")
    # The approver approves the first and pays it on a Buddhist Era day ...
    page = approver.goto("/budget")
    _act(approver, f"tr[data-installment='{installments[0]}']", "approve")
    # ... and records its payment against the finance system's document (the whole amount:
    # the installment is then paid).
    amount = approver.site.scalar("SELECT amount FROM installment WHERE id = :i", i=installments[0])
    payment = approver.page.locator(f"tr[data-payments='{installments[0]}'] form")
    payment.locator("[name=paid_on]").fill(_be(today))
    payment.locator("[name=amount]").fill(str(amount))
    payment.locator("[name=document_ref]").fill("กค 0402.4/1234")
    payment.locator("button[type=submit]").click()
    approver.page.wait_for_load_state()
    assert (
        approver.site.scalar("SELECT state FROM installment WHERE id = :i", i=installments[0])
        == "paid"
    )
    approver.look("installment-paid")
    approver.sign_out()
    # ... and the deputy, acting for the approver, approves the second.
    deputy = clerk("deputy")
    deputy.sign_in()
    deputy.goto("/acting")
    deputy.page.locator("form[action$='/acting'] button").first.click()
    deputy.page.wait_for_load_state()
    page = deputy.goto("/budget")
    assert "แทน นางวิไล ผู้อำนวยการ" in page.locator(".acting-banner").inner_text()
    _act(deputy, f"tr[data-installment='{installments[1]}']", "approve")
    deputy.look("acting-for-the-approver")
    states = {site.scalar("SELECT state FROM installment WHERE id = :i", i=i) for i in installments}
    assert states == {"paid", "approved"}
    assert site.scalar(
        "SELECT count(*) FROM approval WHERE subject_type = 'installment' AND subject_id = :i"
        " AND acting_for_id IS NOT NULL",
        i=installments[1],
    )

    # ---- 4. Schools report with evidence; one withdraws a wrong file.
    school = clerk("school")
    school.sign_in()
    page = school.goto(_result_url(site, project_id, 2, "school@demo.tidtam.local"))
    page.set_input_files(
        "#files",
        files=[
            {"name": "ผิดไฟล์.pdf", "mimeType": "application/pdf", "buffer": PDF},
            {"name": "ภาพกิจกรรม.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ],
    )
    # The page's own file button, in Thai, names what was chosen.
    assert page.locator("#files ~ .file-names").inner_text() == "ผิดไฟล์.pdf, ภาพกิจกรรม.pdf"
    assert page.locator(".file-pick .btn").first.inner_text() == "เลือกไฟล์"
    page.fill("#completion", "100")
    page.fill("#narrative", "จัดกิจกรรมทดลองครบทุกห้องเรียน")
    page.click("#result-form button[type=submit]")
    page.wait_for_selector('[data-testid="state"] .badge.submitted')
    wrong = page.locator("li[data-evidence]", has_text="ผิดไฟล์.pdf")
    wrong.locator("summary").click()
    wrong.locator("form[action*='/withdraw'] button").click()
    page.wait_for_selector("[data-testid=withdrawn-evidence] li")
    assert page.locator("li[data-evidence]").count() == 1
    school.look("result-with-evidence")
    school.sign_out()

    school2 = clerk("school2")
    school2.sign_in()
    page = school2.goto(_result_url(site, project_id, 2, "school2@demo.tidtam.local"))
    page.set_input_files(
        "#files", files=[{"name": "รายงาน.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.fill("#completion", "60")
    page.fill("#narrative", "จัดได้บางห้องเรียน")
    page.click("#result-form button[type=submit]")
    page.wait_for_selector('[data-testid="state"] .badge.submitted')
    school2.look("result-submitted")

    # ---- 5. The officer returns one and accepts the other; progress and the S-curve move.
    page = officer.goto(f"/projects/{project_id}")
    before = page.locator("dd:has(> strong)").first.inner_text()
    curve_before = page.locator("figure.chart-box svg.chart-wide").first.inner_html()
    page = officer.goto("/review")
    officer.look("review")
    school2_result = _result_url(site, project_id, 2, "school2@demo.tidtam.local").split("/")[-1]
    school1_result = _result_url(site, project_id, 2, "school@demo.tidtam.local").split("/")[-1]
    page.check(f"#pick-{school2_result}")
    page.fill("#reason", "แนบภาพกิจกรรมของทุกห้องเรียนด้วย")
    page.locator("#review-form button[value=return]").click()
    page.wait_for_load_state()
    page.locator(f"button[name=single][value='accept:{school1_result}']").click()
    page.wait_for_load_state()
    officer.look("review-done")
    page = officer.goto(f"/projects/{project_id}")
    after = page.locator("dd:has(> strong)").first.inner_text()
    assert before != after, (before, after)
    assert page.locator("figure.chart-box svg.chart-wide").first.inner_html() != curve_before
    officer.look("project-progress")

    school2.goto(_result_url(site, project_id, 2, "school2@demo.tidtam.local"))
    school2.sign_out()
    school2.sign_in()  # the second school's second sign-in: resubmits the returned result
    page = school2.goto(_result_url(site, project_id, 2, "school2@demo.tidtam.local"))
    page.fill("#completion", "100")
    page.fill("#narrative", "จัดครบทุกห้องเรียนแล้ว แนบภาพเพิ่ม")
    page.set_input_files(
        "#files", files=[{"name": "ภาพเพิ่ม.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.click("#result-form button[type=submit]")
    page.wait_for_selector('[data-testid="state"] .badge.submitted')
    school2.look("result-resubmitted")

    # ---- 6. Alerts arrive as digests: the deadline sweep, then the day's digest.
    site.send_task("tidtam.deadlines.run")
    deadline = time.monotonic() + 60
    while not site.scalar("SELECT count(*) FROM notification WHERE state = 'digest'"):
        assert time.monotonic() < deadline, "no alert held for the digest in 60 s"
        time.sleep(1)
    site.send_task("tidtam.notifications.digest")
    deadline = time.monotonic() + 60
    while True:
        digests = [m for m in site.mail.mails if "สรุปการแจ้งเตือนประจำวัน" in m.subject]
        if any("officer@demo.tidtam.local" in m.to for m in digests):
            break
        assert time.monotonic() < deadline, [m.subject for m in site.mail.mails]
        time.sleep(0.5)
    # One digest a person, never one mail per school per step: the alerts of the day in it.
    to_officer = [m for m in digests if "officer@demo.tidtam.local" in m.to]
    assert len(to_officer) == 1, [m.subject for m in digests]
    digest = to_officer[0]
    count = int(re.search(r"(\d+) รายการ", digest.subject).group(1))  # type: ignore[union-attr]
    assert count >= 2, digest.subject
    assert not [m for m in site.mail.mails if "เกินกำหนด" in m.subject], "alerts mailed one by one"
    assert site.url in digest.body
    print(f"\nthe officer's digest: {digest.subject}")

    # ---- 7. The officer (signed in again) accepts the resubmission; the school sees it.
    officer.sign_out()
    officer.sign_in()
    page = officer.goto("/review")
    page.locator(f"button[name=single][value='accept:{school2_result}']").click()
    page.wait_for_load_state()
    assert site.scalar("SELECT state FROM step_result WHERE id = :r", r=school2_result) == (
        "accepted"
    )
    school.sign_in()  # the school's second sign-in
    school.goto(f"/results/{school1_result}")
    assert school.page.locator('[data-testid="state"] .badge.accepted').count() == 1
    school.look("result-accepted")

    # ---- 8. The evaluator scores and publishes the quarter.
    evaluator = clerk("evaluator")
    quarter = quarter_of(today)
    for visit in (1, 2):
        evaluator.sign_in()
        page = evaluator.goto(f"/evaluations?year={be_year}&quarter={quarter}&q={CODE}")
        section = f"#project-{project_id}"
        if visit == 1:
            page.fill(f"{section} input[name=score]", "88")
            page.fill(f"{section} input[name=comment]", "ดำเนินการตามแผน")
            page.locator(f"{section} form[action$='/evaluations/score'] button").click()
            page.wait_for_selector(f"{section} form[data-action=publish]")
            evaluator.look("evaluation-scored")
            evaluator.sign_out()
        else:
            _act(evaluator, section, "publish")
            page.wait_for_selector(f"{section} .badge.published")
            evaluator.look("evaluation-published")

    # ---- 9. The public page and the PDF show it.
    public = clerk("public-reader")
    page = public.goto(f"/public/projects/{project_id}")
    assert NAME in page.content() and "88" in page.content()
    public.look("public-page")
    pdf = officer.context.request.get(f"{site.url}/projects/{project_id}.pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")

    # ---- 10. Every list downloads, in each role's scope.
    lists = {
        officer: ["/review", "/budget", "/dashboard", f"/projects/{project_id}/history"],
        approver: ["/approvals"],
        evaluator: [f"/evaluations?year={be_year}&quarter={quarter}"],
    }
    approver.sign_in()  # the approver's second sign-in
    admin = clerk("admin")
    admin.sign_in()
    admin.goto("/admin")
    admin.look("administration")
    admin.sign_out()
    admin.sign_in()  # the admin's second sign-in
    lists[admin] = ["/admin/users", "/admin/units"]
    fetched = 0
    for person, paths in lists.items():
        for path in paths:
            person.goto(path)
            count = _downloads(person)
            assert count >= 2, path
            fetched += count
    officer.look("history")
    assert fetched >= 16
    for person in (officer, approver, evaluator, school, school2, deputy, public, admin):
        assert not person.problems, "\n".join(person.problems)
