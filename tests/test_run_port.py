"""`make run PORT=…` mails links to the port it serves on: the run target hands web, worker
and beat a PUBLIC_URL made of its HOST and PORT unless one is given. Read from `make -n`
(prints the commands, runs none)."""

from __future__ import annotations

import os
import re
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


def _schedule_file(command: str, **env: str) -> str:
    """Where `command`'s celery beat keeps its schedule, as the shell expands it."""
    argument = re.search(r"--schedule (\S+)", command)
    assert argument is not None, command
    clean = {k: v for k, v in os.environ.items() if k not in ("TIDTAM_INSTANCE", "MAKEFLAGS")}
    clean.pop("BEAT_SCHEDULE_FILE", None)
    return subprocess.run(
        ["bash", "-c", f"echo {argument.group(1)}"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_beat_keeps_its_schedule_in_the_instance_directory(tmp_path: Path) -> None:
    """With TIDTAM_INSTANCE elsewhere (README: where the embedded default keeps its files) beat
    wrote to ./instance/, which a fresh checkout lacks: it died and was started again every
    two seconds."""
    procfile_beat = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("beat:")
    )
    make_beat = subprocess.run(
        ["make", "--no-print-directory", "-n", "beat"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "MAKEFLAGS"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for command in (procfile_beat, make_beat):
        assert _schedule_file(command, TIDTAM_INSTANCE=str(tmp_path)) == str(
            tmp_path / "celerybeat-schedule"
        )
        assert _schedule_file(command) == "instance/celerybeat-schedule"
