"""Load from a second process: N concurrent clients requesting one URL for a while, and
latency percentiles and requests per second out.

wrk is used when installed (`apt-get install wrk`); otherwise this module runs itself as a
separate Python process: one thread per client, each with a keep-alive http.client connection
(reopened when the server closes it, as gunicorn's sync workers do). BENCH_LOAD=python forces
the Python generator.

    python -m bench.load URL --clients 16 --seconds 10 [--header 'Cookie: …'] …
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent


def generator_name() -> str:
    forced = os.environ.get("BENCH_LOAD", "")
    if forced == "python" or not shutil.which("wrk"):
        return "python"
    return "wrk"


def measure(
    url: str,
    headers: dict[str, str],
    clients: int,
    seconds: float,
    paths: list[str] | None = None,
) -> dict[str, Any]:
    """Load `url` with `clients` concurrent clients for `seconds`, from another process; with
    `paths`, the clients ask for those paths of its server in turn instead.
    Returns {"generator", "requests", "errors", "p50_ms", "p95_ms", "rps"}."""
    if generator_name() == "wrk":
        raw = _wrk(url, headers, clients, seconds, paths or [])
    else:
        raw = _python(url, headers, clients, seconds, paths or [])
    duration = raw["duration_us"] / 1e6 or 1e-9
    return {
        "generator": generator_name(),
        "clients": clients,
        "seconds": round(duration, 2),
        "requests": raw["requests"],
        "errors": raw["errors_status"] + raw["errors_socket"],
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "rps": round(raw["requests"] / duration, 1),
    }


def _last_json_line(output: str) -> dict[str, Any]:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"the load generator printed no result:\n{output[-2000:]}")


def _wrk(
    url: str, headers: dict[str, str], clients: int, seconds: float, paths: list[str]
) -> dict[str, Any]:
    command = ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s"]
    command += ["--timeout", "30s", "-s", str(HERE / "wrk_report.lua")]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += [url, "--", *paths] if paths else [url]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return _last_json_line(run.stdout)


def _python(
    url: str, headers: dict[str, str], clients: int, seconds: float, paths: list[str]
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.load", url, "--clients", str(clients)]
    command += ["--seconds", str(seconds)]
    for path in paths:
        command += ["--path", path]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    run = subprocess.run(command, capture_output=True, text=True, check=True, cwd=HERE.parent)
    return _last_json_line(run.stdout)


def _client(
    url: str,
    headers: dict[str, str],
    stop: float,
    latencies: list[float],
    errors: list[int],
    paths: list[str],
) -> None:
    parts = urlsplit(url)
    paths = paths or [parts.path + (f"?{parts.query}" if parts.query else "")]
    turn = 0
    connection: http.client.HTTPConnection | None = None
    while time.monotonic() < stop:
        path = paths[turn % len(paths)]
        turn += 1
        if connection is None:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors[1] += 1
            connection.close()
            connection = None
            continue
        latencies.append(time.perf_counter() - started)
        if response.status >= 400:
            errors[0] += 1
        if response.will_close:
            connection.close()
            connection = None


def _rotated(paths: list[str], client: int, clients: int) -> list[str]:
    start = client * len(paths) // clients if paths else 0
    return paths[start:] + paths[:start]


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--path", action="append", default=[], help="asked for in turn")
    args = parser.parse_args()
    headers = dict(header.split(": ", 1) for header in args.header)
    started = time.monotonic()
    stop = started + args.seconds
    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    errors: list[list[int]] = [[0, 0] for _ in range(args.clients)]
    threads = [
        threading.Thread(
            target=_client,
            # Each client starts at its own place in the paths, so that they ask for different ones.
            args=(
                args.url,
                headers,
                stop,
                latencies[i],
                errors[i],
                _rotated(args.path, i, args.clients),
            ),
        )
        for i in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.monotonic() - started
    ordered = sorted(value for client in latencies for value in client)
    print(
        json.dumps(
            {
                "requests": len(ordered),
                "duration_us": int(duration * 1e6),
                "p50_us": int(_percentile(ordered, 50) * 1e6),
                "p95_us": int(_percentile(ordered, 95) * 1e6),
                "p99_us": int(_percentile(ordered, 99) * 1e6),
                "errors_status": sum(e[0] for e in errors),
                "errors_socket": sum(e[1] for e in errors),
            }
        )
    )


if __name__ == "__main__":
    main()
