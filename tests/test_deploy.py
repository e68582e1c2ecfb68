"""docker-compose.yml stays honest: each service runs a Makefile target, and the targets the
compose file starts work here (no Docker engine runs on this machine)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import app_environment, create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = (ROOT / "docker-compose.yml").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_compose_command_is_a_make_target() -> None:
    commands = re.findall(r'command: \["make", "([\w-]+)"\]', COMPOSE)
    assert set(commands) >= {"migrate", "web", "worker", "beat"}
    for target in commands:
        assert re.search(rf"^{re.escape(target)}:", MAKEFILE, re.M), target
    for service in ("postgres:15", "redis:7", "mailpit"):
        assert service in COMPOSE
    assert COMPOSE.count("healthcheck:") >= 4


def test_make_migrate_then_make_web_serve_the_app(tmp_path: Path) -> None:
    url = create_database(tmp_path, "deploy")
    port = _free_port()
    env = {
        **os.environ,
        **app_environment(tmp_path, url),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
    }
    try:
        subprocess.run(
            ["make", "--no-print-directory", "migrate"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        web = subprocess.Popen(
            ["make", "--no-print-directory", "web"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            body = ""
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        body = r.read().decode()
                    break
                except OSError:
                    time.sleep(0.2)
            assert '"status":"ok"' in body.replace(" ", "")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                assert r.status == 200
                assert "csrf_token" in r.read().decode()
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
    finally:
        drop_database(url)


def test_compose_runs_production_mode_which_refuses_missing_secrets() -> None:
    assert "TIDTAM_ENV: production" in COMPOSE
    assert "SECRET_KEY: ${SECRET_KEY:?" in COMPOSE


@pytest.mark.parametrize("target", ["run", "test", "lint", "bench"])
def test_the_one_door_has_its_four_targets(target: str) -> None:
    assert re.search(rf"^{target}:", MAKEFILE, re.M)
