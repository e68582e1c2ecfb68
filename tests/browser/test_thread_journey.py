"""A returned result answered in its thread, in Thai at 360 px, in a real Chromium against a
real server and worker: the officer returns the school's result with a reason, the reason
opens the thread, the school answers there with a photo and tells the officer (@), and the
officer follows the notification's link to the answer. The thread is photographed into
docs/screenshots/thread-360-th.png."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.browser.test_journeys import (  # the suite's server, browser and tabs
    ROOT,
    Server,
    axe,  # noqa: F401
    browser,  # noqa: F401
    person,  # noqa: F401
    server,  # noqa: F401
)
from tests.work_data import PNG

SCREENSHOT = ROOT / "docs" / "screenshots" / "thread-360-th.png"
ENGLISH = ("Conversation", "Send the comment", "Your comment", "Tell people", "Reason for the")


def test_a_returned_result_is_answered_in_its_thread(
    person: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    result_id = server.scalar(
        "SELECT sr.id FROM step_result sr JOIN plan_step ps ON ps.id = sr.step_id"
        " JOIN org_unit ou ON ou.id = sr.unit_id"
        " WHERE ou.code = '5023077101' AND ps.position = 3"
    )
    school = person("school")
    school.sign_in()
    school.page.set_viewport_size({"width": 360, "height": 800})
    school.goto(f"/results/{result_id}")
    school.page.fill("#completion", "100")
    school.page.fill("#narrative", "จัดอบรมครูครบทุกคน")
    school.page.click("#result-form button[type=submit]")
    school.page.wait_for_selector('[data-testid="state"] .badge.submitted')

    officer = person("officer")
    officer.sign_in()
    officer.goto("/review")
    officer.page.fill("#reason", "ขาดรูปถ่ายกิจกรรม กรุณาแนบเพิ่ม")
    officer.page.locator(f"button[value='return:{result_id}']").click()
    officer.page.wait_for_selector(".flash")

    # The reason opens the thread on the school's result page.
    school.goto(f"/results/{result_id}")
    thread = school.page.locator(f'[data-thread="step_result-{result_id}"]')
    first = thread.locator("li[data-comment]").first
    assert "ขาดรูปถ่ายกิจกรรม กรุณาแนบเพิ่ม" in first.inner_text()
    assert "เหตุผลที่ส่งกลับ" in first.inner_text()

    # The school answers there, with a photo, and tells the officer.
    school.page.fill(f"#body-step_result-{result_id}", "แนบรูปถ่ายกิจกรรมแล้วค่ะ ขอบคุณค่ะ")
    # Who may be told is fetched when the list is opened (static/js/mentions.js).
    thread.locator("details.mentions summary").click()
    thread.locator("label.check", has_text="นายสมชาย รักงาน").locator("input").check()
    school.page.set_input_files(
        f"#files-step_result-{result_id}",
        files=[{"name": "รูปกิจกรรม.png", "mimeType": "image/png", "buffer": PNG}],
    )
    thread.locator("form.comment-form button[type=submit]").click()
    school.page.wait_for_url(re.compile(r"#comment-\d+$"))
    comment_id = int(school.page.url.rsplit("-", 1)[1])
    answer = school.page.locator(f"#comment-{comment_id}")
    assert "แนบรูปถ่ายกิจกรรมแล้วค่ะ" in answer.inner_text()
    assert answer.locator("a[download]", has_text="รูปกิจกรรม.png").count() == 1
    text = thread.inner_text()
    assert not [word for word in ENGLISH if word in text], text
    school.shoot("result-thread", accessible=True)  # 360 and 1280 px, axe, no sideways scroll
    school.page.set_viewport_size({"width": 360, "height": 800})
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    thread.screenshot(path=str(SCREENSHOT))
    assert Path(SCREENSHOT).stat().st_size > 0

    # The officer is told through the outbox (the worker relays it) and follows the link.
    deadline = time.monotonic() + 30
    # Not read yet, it is a button that marks it read on the way to what it names.
    link = officer.page.locator('li[data-kind="comment.mention"] button.link-button')
    while True:
        officer.goto("/notifications")
        if link.count():
            break
        assert time.monotonic() < deadline, "the mention never reached the notification centre"
        time.sleep(1)
    assert "กล่าวถึงท่านในความเห็น" in link.first.inner_text()
    link.first.click()
    officer.page.wait_for_load_state()
    path = f"/results/{result_id}#comment-{comment_id}"
    assert officer.page.url.endswith(path), officer.page.url  # on this server, not PUBLIC_URL
    assert "แนบรูปถ่ายกิจกรรมแล้วค่ะ" in officer.page.locator(f"#comment-{comment_id}").inner_text()
    # read now: the centre links to it plainly
    officer.goto("/notifications")
    assert officer.page.locator('li[data-kind="comment.mention"] a').count() == 1
