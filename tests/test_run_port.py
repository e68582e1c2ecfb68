"""`make run PORT=…` mails links to the port it serves on: the run target hands web, worker
and beat a PUBLIC_URL made of its HOST and PORT unless one is given. Read from `make -n`
(prints the commands, runs none)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _honcho_line(*args: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "HOST", "PORT")}
    clean.pop("MAKEFLAGS", None)
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (line,) = [line for line in printed.splitlines() if "honcho" in line]
    return line


def test_make_run_links_mails_to_its_own_port() -> None:
    assert "PUBLIC_URL='http://127.0.0.1:5077'" in _honcho_line("PORT=5077")
    assert "PUBLIC_URL='http://127.0.0.1:5000'" in _honcho_line()
    assert "PUBLIC_URL='http://localhost:5078'" in _honcho_line("HOST=0.0.0.0", "PORT=5078")


def test_a_given_public_url_is_kept() -> None:
    given = "https://tidtam.example.go.th"
    assert f"PUBLIC_URL='{given}'" in _honcho_line("PORT=5077", f"PUBLIC_URL={given}")
    assert f"PUBLIC_URL='{given}'" in _honcho_line("PORT=5077", PUBLIC_URL=given)


def test_the_web_process_serves_on_that_port() -> None:
    web = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    assert "--port ${PORT" in web and "--host ${HOST" in web
