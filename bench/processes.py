"""Starting servers for the benchmarks, waiting for them, and reading their peak memory.

Linux only: peak resident memory is read from /proc/<pid>/status (VmHWM), the high-water mark
the kernel keeps for each process, so no sampling is needed and nothing is missed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float = 120) -> None:
    """Wait until `url` answers 200. Raises RuntimeError when it does not in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f}s")


@contextmanager
def started(
    command: list[str], env: Mapping[str, str], log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in a process group of its own and stop the whole group afterwards."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_rss_mb(pid: int) -> dict[str, float]:
    """Peak resident memory (VmHWM) of the processes below `pid` that are Python programs
    (gunicorn or celery master and workers, not make or a shell): the largest, and all
    together. Megabytes."""
    peaks: list[float] = []
    for process in descendants(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
            command = Path(f"/proc/{process}/cmdline").read_bytes()
        except OSError:
            continue
        if b"python" not in command and b"gunicorn" not in command and b"celery" not in command:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return {
        "processes": len(peaks),
        "largest_mb": round(max(peaks, default=0.0), 1),
        "total_mb": round(sum(peaks), 1),
    }
