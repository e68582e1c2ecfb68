"""A refused submit moves the focus to the error summary, with JavaScript and without (issue 18,
item 2).

The school's result form sends itself by script (to show upload progress) and disabled its
button while sending, so after a refusal the focus fell to the page body and the reason was a
line of text nobody was taken to. Now the script builds the same summary the server renders
for a plain post and focuses it; without JavaScript the server's page focuses it by itself
(`autofocus`). Either way the refused field is marked invalid and described by its message,
the summary's link leads to the field, and axe finds nothing serious on the refused page.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.test_journeys import (  # the suite's server, browser and signed-in tab
    PROJECT_CODE,
    Person,
    Server,
    axe,  # noqa: F401
    browser,  # noqa: F401
    person,  # noqa: F401
    server,  # noqa: F401
)
from tests.conftest import DEMO_PASSWORDS

pytestmark = [pytest.mark.browser, pytest.mark.worker]

SCHOOL = "school@demo.tidtam.local"
ACTIVE_IS_SUMMARY = (
    "document.activeElement && document.activeElement.matches('[data-error-summary]')"
)


def _wait_for_focus_on_summary(page: Page) -> None:
    """Until the summary has the focus (polled: the pages' CSP allows no eval, so no
    wait_for_function)."""
    for _ in range(50):
        if page.evaluate(ACTIVE_IS_SUMMARY):
            return
        time.sleep(0.1)
    raise AssertionError("the focus is on " + page.evaluate("document.activeElement.outerHTML"))


def _result_path(site: Server) -> str:
    result_id = site.scalar(  # the demo school's own result of the demo project's last step
        "SELECT r.id FROM step_result r JOIN plan_step s ON s.id = r.step_id "
        "JOIN project p ON p.id = s.project_id JOIN org_unit u ON u.id = r.unit_id "
        "WHERE p.code = :c AND u.code = '5023077101' ORDER BY s.position DESC",
        c=PROJECT_CODE,
    )
    return f"/results/{result_id}"


def _refuse(page: Page) -> None:
    """Type a completion above 100 and submit: the server refuses it."""
    page.fill("#completion", "150")
    page.fill("#narrative", "อบรมครูครบทุกคน")
    page.click("#result-form button[type=submit]")
    page.wait_for_selector("#result-form [data-error-summary]")


def _assert_refusal_focused(page: Page) -> None:
    _wait_for_focus_on_summary(page)
    summary = page.locator("#result-form [data-error-summary]")
    assert summary.get_attribute("role") == "alert"
    assert summary.locator("h2").inner_text() == "มีข้อผิดพลาด"
    field = page.locator("#completion")
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby") or ""
    assert described and page.locator(f"#{described}").inner_text().strip()
    assert page.locator("#result-form [aria-invalid]").count() == 1
    # The summary's link takes the person to the field.
    link = summary.locator("a[href='#completion']")
    assert link.count() == 1
    link.click()
    assert page.evaluate("document.activeElement.id") == "completion"


def test_with_javascript_the_focus_goes_to_the_summary(person: Any, server: Server) -> None:  # noqa: F811
    school: Person = person("school")
    school.sign_in()
    school.goto(_result_path(server))
    page = school.page
    assert page.locator("[data-error-summary]").count() == 0
    page.evaluate("window.notReloaded = true")
    _refuse(page)
    assert page.evaluate("window.notReloaded === true")  # the script sent it and answered
    assert page.evaluate(ACTIVE_IS_SUMMARY)
    school.shoot("result-refused", accessible=True)
    _assert_refusal_focused(page)
    # A second refusal replaces the first summary instead of adding another.
    _refuse(page)
    assert page.locator("[data-error-summary]").count() == 1
    assert page.locator("p.field-error[id='completion-error']").count() == 1
    _assert_refusal_focused(page)


def test_without_javascript_the_focus_goes_to_the_summary(
    browser: Browser,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(server.url + "/login")
        page.fill("#email", SCHOOL)
        page.fill("#password", DEMO_PASSWORDS[SCHOOL])
        page.click("form.card button[type=submit]")
        page.wait_for_url(re.compile(r"/school$"))
        page.goto(server.url + _result_path(server))
        _refuse(page)
        _assert_refusal_focused(page)
        # A refused sign-in without JavaScript is focused on its summary as well.
        context.clear_cookies()
        page.goto(server.url + "/login")
        page.click("form.card button[type=submit]")
        page.wait_for_selector("[data-error-summary]")
        _wait_for_focus_on_summary(page)
        assert page.locator("#email").get_attribute("aria-invalid") == "true"
    finally:
        context.close()


def test_other_refused_forms_focus_their_summary_and_pass_axe(person: Any) -> None:  # noqa: F811
    """Forms posted without a script (allocation, project editor): the page the server sends
    back focuses its summary (autofocus) and passes axe at both widths."""
    officer: Person = person("officer")
    officer.sign_in()
    page = officer.goto("/budget")
    page.select_option("#project_id", index=1)
    page.select_option("#recipient_unit_id", index=1)
    page.fill("#amount", "หกหมื่น")
    page.locator("form[action$='/budget/allocations'] button[type=submit]").click()
    page.wait_for_selector("[data-error-summary]")
    _wait_for_focus_on_summary(page)
    assert page.locator("#amount").get_attribute("aria-invalid") == "true"
    officer.shoot("budget-refused", accessible=True)

    page = officer.goto("/projects/new")
    page.fill("#code", "50230700-0099")
    page.select_option("#fiscal_year_id", label="2566")
    page.fill("#name", "โครงการทดสอบข้อผิดพลาด")
    page.fill("#approved_budget", "แสนบาท")
    page.fill("#step-1-name", "ขั้นแรก")
    page.fill("#step-1-weight", "ร้อย")
    page.fill("#step-1-start", "2022-10-01")
    page.fill("#step-1-end", "2022-12-31")
    page.click("#project-form > button[type=submit]")
    page.wait_for_selector("#project-form [data-error-summary]")
    _wait_for_focus_on_summary(page)
    for ident in ("approved_budget", "step-1-weight"):
        assert page.locator(f"#{ident}").get_attribute("aria-invalid") == "true"
        assert page.locator(f"[data-error-summary] a[href='#{ident}']").count() == 1
    officer.shoot("project-refused", accessible=True)


def test_switching_the_language_keeps_what_was_typed(person: Any) -> None:  # noqa: F811
    """The language links reload the page: an admin half-way through the new-user form
    switched to English and found both fields empty. What was typed comes back; the
    password never travels."""
    admin: Person = person("admin")
    admin.sign_in()
    page = admin.goto("/admin/users?lang=th")
    page.fill("#email", "halfway@example.org")
    page.fill("#name", "ครูครึ่งทาง")
    page.fill("#password", "never-kept-1234")
    with page.expect_navigation():
        page.evaluate("document.querySelector('a[hreflang=\"en\"]').click()")
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.input_value("#email") == "halfway@example.org"
    assert page.input_value("#name") == "ครูครึ่งทาง"
    assert page.input_value("#password") == ""
    # a later visit of the page starts empty
    page.goto(page.url)
    assert page.input_value("#email") == ""


def _new_draft(officer: Person, code: str, name: str) -> Page:
    """The officer signed in, with a new draft `code` just created: its editor, in Thai."""
    officer.sign_in()
    page = officer.goto("/projects/new?lang=th")
    page.fill("#code", code)
    page.select_option("#fiscal_year_id", label="2566")
    page.fill("#name", name)
    page.click("#project-form button[type=submit]")
    page.wait_for_url("**/projects/*/edit")
    return page


def test_a_language_switch_keeps_the_version_the_typing_was_drawn_at(person: Any) -> None:  # noqa: F811
    """The switch redrew the editor at the project's newest version and put the typing back
    on it: saved, it wrote over a save another tab had made meanwhile. The typing goes back
    with the version it was typed against, and its save is refused as stale."""
    officer: Person = person("officer")
    page = _new_draft(officer, "50230000-9300", "โครงการสองแท็บ")
    edit = page.url
    page.fill("#contact_name", "ชื่อจากแท็บแรก")
    other = officer.context.new_page()  # the same person's second tab saves meanwhile
    other.goto(edit)
    other.fill("#contact_phone", "0 2000 0000")
    other.click("#project-form button[type=submit]")
    other.wait_for_load_state("load")
    with page.expect_navigation():
        page.evaluate("document.querySelector('a[hreflang=\"en\"]').click()")
    page.wait_for_load_state("load")
    assert page.input_value("#contact_name") == "ชื่อจากแท็บแรก"
    page.click("#project-form button[type=submit]")
    page.wait_for_load_state("load")
    assert "changed while your page was open" in page.inner_text("main")
    assert (
        officer.server.scalar("SELECT contact_phone FROM project WHERE code = '50230000-9300'")
        == "0 2000 0000"
    )
    assert officer.server.scalar(
        "SELECT contact_name FROM project WHERE code = '50230000-9300'"
    ) in (None, "")


def test_leaving_a_page_with_typing_not_sent_asks_first(person: Any) -> None:  # noqa: F811
    """A school's narrative typed on the result page was lost to the page's other button:
    any way off a page with typing not sent in a form that changes something asks first;
    staying keeps the typing. Sending the form, or switching the language, asks nothing."""
    officer: Person = person("officer")
    officer.sign_in()
    page = officer.goto("/projects/new?lang=th")
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    # Nothing typed, nothing to ask (its menus with no choice marked show their first).
    page.locator("a[href='/home']").first.click()
    page.wait_for_url("**/home")
    assert asked == []
    page = officer.goto("/projects/new?lang=th")  # the same tab: `stay` still answers
    page.fill("#name", "โครงการที่ยังไม่บันทึก")
    page.locator("a[href='/home']").first.click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.url.endswith("/projects/new?lang=th")
    assert page.input_value("#name") == "โครงการที่ยังไม่บันทึก"
    with page.expect_navigation():  # the switch carries the typing: nothing to ask
        page.evaluate("document.querySelector('a[hreflang=\"en\"]').click()")
    assert asked == ["beforeunload"]
    assert page.input_value("#name") == "โครงการที่ยังไม่บันทึก"
    page.click("#project-form button[type=submit]")  # sent (and refused): nothing to ask
    page.wait_for_load_state("load")
    assert asked == ["beforeunload"]
    # The refused page draws the typing back, saved nowhere: leaving it asks too.
    assert page.input_value("#name") == "โครงการที่ยังไม่บันทึก"
    page.locator("a[href='/home']").first.click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload", "beforeunload"]


def _switch_to_english(page: Page) -> None:
    with page.expect_navigation():
        page.evaluate("document.querySelector('a[hreflang=\"en\"]').click()")
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang") == "en"


def test_a_language_switch_on_a_refused_page_keeps_what_was_typed(person: Any) -> None:  # noqa: F811
    """A refused save draws the editor again with the typing as the fields' values: the switch
    kept only what differed from them, so it reloaded the project as saved and the typing was
    gone. The refused form is kept whole, with the version it was typed against."""
    officer: Person = person("officer")
    page = _new_draft(officer, "50230000-9301", "โครงการถูกปฏิเสธ")
    drawn = page.input_value("#project-form input[name=version]")
    page.fill("#contact_name", "ชื่อที่พิมพ์ไว้")
    page.fill("#rationale", "เหตุผลที่พิมพ์ไว้")
    page.fill("#approved_budget", "แสนบาท")
    page.click("#project-form > button[type=submit]")
    page.wait_for_selector("#project-form [data-error-summary]")
    _switch_to_english(page)
    assert page.input_value("#contact_name") == "ชื่อที่พิมพ์ไว้"
    assert page.input_value("#rationale") == "เหตุผลที่พิมพ์ไว้"
    assert page.input_value("#approved_budget") == "แสนบาท"
    assert page.input_value("#project-form input[name=version]") == drawn
    # Refused as stale (another tab saved meanwhile): the typing shown is kept the same way.
    page.fill("#approved_budget", "100000")
    other = officer.context.new_page()
    other.goto(page.url)
    other.fill("#contact_phone", "0 2000 0001")
    other.click("#project-form button[type=submit]")
    other.wait_for_load_state("load")
    page.click("#project-form > button[type=submit]")
    page.wait_for_selector("[data-testid=changed-meanwhile]")
    with page.expect_navigation():
        page.evaluate("document.querySelector('a[hreflang=\"th\"]').click()")
    page.wait_for_load_state("load")
    assert page.input_value("#contact_name") == "ชื่อที่พิมพ์ไว้"
    assert page.input_value("#approved_budget") == "100000"


def test_a_language_switch_keeps_the_rows_added(person: Any) -> None:  # noqa: F811
    """Steps, objectives and targets added with the page's buttons were not on the reloaded
    page, so their typing was dropped without a word (and a save stored the plan without
    them). The rows are added again and the typing put back into them."""
    officer: Person = person("officer")
    officer.sign_in()
    page = officer.goto("/projects/new?lang=th")
    page.fill("#name", "โครงการเพิ่มแถว")
    page.click("#add-step")
    page.click("#add-step")
    page.fill("#step-5-name", "ขั้นที่ห้า")
    page.fill("#step-5-weight", "20")
    page.click("[data-add=objectives]")
    page.fill("#objective-3", "วัตถุประสงค์ที่สาม")
    page.click("[data-add=targets]")
    page.select_option("#target-kind-3", "quality")
    page.fill("#target-text-3", "เป้าหมายที่สาม")
    _switch_to_english(page)
    assert page.locator("#steps-table tbody tr").count() == 5
    assert page.input_value("#step-5-name") == "ขั้นที่ห้า"
    assert page.input_value("#step-5-weight") == "20"
    assert page.input_value("#objective-3") == "วัตถุประสงค์ที่สาม"
    assert page.input_value("#target-kind-3") == "quality"
    assert page.input_value("#target-text-3") == "เป้าหมายที่สาม"
    assert page.input_value("#name") == "โครงการเพิ่มแถว"
    assert page.text_content("#weights-total") == "20"
    assert not officer.errors, officer.errors
