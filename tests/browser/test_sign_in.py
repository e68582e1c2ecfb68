"""Signing in as a person does, in a real Chromium against a real server (gunicorn) that
requires the second factor of approvers and admins and offers single sign-on through a real
OpenID Connect provider (tests/oidc):

- the officer signs in through the provider's page and lands on their home page;
- the approver, asked for a second factor the first time, scans (reads) the QR code's key,
  types the app's code, keeps the recovery codes, and signs in with a code next time.

Pages are photographed at 360 px in Thai into $TIDTAM_SCREENSHOTS and must not scroll
sideways.
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
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS, ROOT, SHOTS
from tests.conftest import DEMO_PASSWORDS, app_environment, create_database, drop_database
from tests.oidc_provider import running_provider
from tests.smtp import free_port

pytestmark = [pytest.mark.browser]


@dataclass
class SignInServer:
    url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInServer]:
    tmp = tmp_path_factory.mktemp("sign-in")
    database_url = create_database(tmp, "signin")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with running_provider(base + "/login/sso/callback") as provider:
            env = {
                **os.environ,
                **app_environment(tmp, database_url),
                **{key: str(value) for key, value in provider.config().items()},
                "PUBLIC_URL": base,
                "TWO_FACTOR_REQUIRED": "true",
            }
            flask = [sys.executable, "-m", "flask", "--app", "service"]
            for command in (["db", "upgrade"], ["demo-data"]):
                subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True)
            log = (tmp / "web.log").open("wb")
            web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "service:create_app()",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                for _ in range(150):
                    try:
                        with urllib.request.urlopen(base + "/healthz", timeout=2):
                            break
                    except OSError:
                        time.sleep(0.2)
                else:
                    pytest.fail((tmp / "web.log").read_text()[-3000:])
                yield SignInServer(base)
            finally:
                os.killpg(web.pid, signal.SIGTERM)
                web.wait(timeout=30)
                log.close()
    finally:
        drop_database(database_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # pragma: no cover
        pytest.skip("Chromium is missing")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 360, "height": 800})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"sign-in-{name}-360.png"), full_page=True)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at 360 px"


def test_the_officer_signs_in_through_the_identity_provider(
    page: Page, server: SignInServer
) -> None:
    page.goto(server.url + "/login?lang=th")
    _shoot(page, "login")
    page.click("#sso")
    page.wait_for_url(re.compile(r"/interaction/"))
    page.fill("#login", "officer@demo.tidtam.local")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/home$"))
    assert page.locator('[data-role="officer"]').count() >= 1
    page.goto(server.url + "/account")
    _shoot(page, "account")
    assert "ประวัติการเข้าสู่ระบบ" in page.content()


def test_the_approver_enrols_and_signs_in_with_a_code(page: Page, server: SignInServer) -> None:
    email = "approver@demo.tidtam.local"

    def password_step() -> None:
        page.goto(server.url + "/login?lang=th")
        page.fill("#email", email)
        page.fill("#password", DEMO_PASSWORDS[email])
        page.click("form.card button[type=submit]")
        page.wait_for_url(re.compile(r"/login/second-factor$"))

    password_step()
    assert page.locator("figure.qr svg").count() == 1
    _shoot(page, "enrol")
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form.card button[type=submit]")
    codes = page.locator("#recovery-codes code")
    # Waits for the next page: counted at once, a loaded machine counted the form's (0).
    expect(codes).to_have_count(10)
    _shoot(page, "recovery-codes")
    page.click("a.btn")
    page.wait_for_url(re.compile(r"/home$"))

    # Sign out (the menu is folded at 360 px: open it first).
    page.click("details.bar-menu summary")
    page.click("header form.inline button[type=submit]")
    page.wait_for_url(re.compile(r"/login"))
    password_step()
    _shoot(page, "code")
    # The enrolling code is spent: the app's next one (a step ahead is accepted).
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/home$"))
    assert page.locator('[data-role="approver"]').count() >= 1
