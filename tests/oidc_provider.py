"""A real OpenID Connect provider for the sign-in tests: node tests/oidc/provider.js (the
`oidc-provider` package, installed by `npm ci` in tests/oidc, as .ci/run does), on a free
loopback port, and a way through its login page without a browser."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.smtp import free_port

FOLDER = Path(__file__).parent / "oidc"
CLIENT_ID = "tidtam"
CLIENT_SECRET = "tidtam-test-secret"


@dataclass
class Provider:
    issuer: str
    redirect_uri: str

    def config(self, **extra: object) -> dict[str, object]:
        """The app settings that point Tidtam at this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": "ThaID (test)",
            **extra,
        }


def node_ready() -> str | None:
    """Why the provider cannot start here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (FOLDER / "node_modules" / "oidc-provider").exists():
        return "run `npm ci` in tests/oidc (.ci/run does)"
    return None


@contextmanager
def running_provider(
    redirect_uri: str, *, id_token_ttl: int = 3600, token_delay_ms: int = 0
) -> Iterator[Provider]:
    problem = node_ready()
    if problem:
        pytest.skip(problem)
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": redirect_uri,
        "ID_TOKEN_TTL": str(id_token_ttl),
        "TOKEN_DELAY_MS": str(token_delay_ms),
    }
    process = subprocess.Popen(
        ["node", "provider.js"],
        cwd=FOLDER,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(issuer + "/.well-known/openid-configuration", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"the OIDC provider did not start: {output[-2000:]}")
                time.sleep(0.1)
        yield Provider(issuer, redirect_uri)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def sign_in_at_provider(
    authorize_url: str, login: str, redirect_uri: str, browser: requests.Session | None = None
) -> str:
    """Follow the provider from Tidtam's authorization redirect through its login page as
    `login` (an e-mail) until it sends the browser back: the callback URL it names.
    `browser`: one holding the provider's cookies (a new one by default)."""
    browser = browser or requests.Session()
    url = authorize_url
    for _ in range(10):
        answer = browser.get(url, allow_redirects=False, timeout=5)
        if answer.status_code == 200 and "/interaction/" in answer.url:
            answer = browser.post(
                answer.url, data={"login": login}, allow_redirects=False, timeout=5
            )
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
        url = urljoin(url if answer.status_code != 200 else answer.url, answer.headers["Location"])
        if url.startswith(redirect_uri):
            return url
    raise AssertionError("the provider never sent the browser back")
