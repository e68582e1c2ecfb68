"""Nothing a client does to an export, and no fault at a request's end, takes the service down.

Each test starts the real app under gunicorn (as `make web` does) on a database of its own:
- 50 concurrent CSV and XLSX exports of every list that exports, some cut off mid-stream, some
  only asked for their headers, some with bad filters, leave no transaction open (PostgreSQL:
  no connection `idle in transaction`; SQLite: another process takes the write lock at once)
  and every page still answers;
- a connection that dies before the request's session is closed still gives the app's own
  answer with its headers, not the server's bare 500;
- a request line too long for gunicorn is answered in problem+json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, Response
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.core.db import make_engine
from service.core.export import rows_in_chunks
from service.dashboard import queries
from service.org.models import User
from tests.conftest import DEMO_PASSWORDS, app_environment, create_database, drop_database
from tests.project_data import make_project, unit, year
from tests.stack import eventually

ROOT = Path(__file__).resolve().parent.parent
OFFICER = "officer@demo.tidtam.local"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    base: str
    port: int
    database_url: str
    env: dict[str, str]
    log: Path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.base + path, timeout=30, allow_redirects=False, **kwargs)

    def signed_in(self) -> requests.Session:
        browser = requests.Session()
        page = browser.get(self.base + "/login", timeout=30).text
        match = _CSRF.search(page)
        assert match, page[:500]
        answer = browser.post(
            self.base + "/login",
            data={"email": OFFICER, "password": DEMO_PASSWORDS[OFFICER], "csrf_token": match[1]},
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[:500]
        return browser


@contextmanager
def _gunicorn(env: dict[str, str], log: Path, app: str | None = None) -> Iterator[str]:
    """The web server on a free port: `make web` (the production command), or gunicorn serving
    `app` (an app factory of a test) with the same settings. Yields its base URL."""
    port = _free_port()
    full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)}
    full_env["WEB_CONCURRENCY"] = "2"
    if app is None:
        command = ["make", "--no-print-directory", "web"]
    else:
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", app]
    with log.open("ab") as out:
        web = subprocess.Popen(
            command,
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(base + "/healthz", timeout=2)
                break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            pytest.fail(log.read_text()[-3000:])
        yield base
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`make web` with two workers on a migrated database with the demo and 1,500 generated
    projects in 2566 (so that an export is long enough to be cut off in the middle)."""
    tmp = tmp_path_factory.mktemp("export-safety")
    database_url = create_database(tmp, "export_safety")
    env = app_environment(tmp, database_url)
    flask = [sys.executable, "-m", "flask", "--app", "service"]
    generate = ["generate-data", "--projects", "1500", "--years", "2566", "--append"]
    generate += ["--districts", "2", "--departments", "1", "--schools-per-network", "1"]
    log = tmp / "web.log"
    try:
        for command in (["db", "upgrade"], ["demo-data", "--legacy-only"], generate):
            subprocess.run(
                flask + command,
                cwd=ROOT,
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
        with _gunicorn(env, log) as base:
            yield Served(base, int(base.rsplit(":", 1)[1]), database_url, env, log)
    finally:
        drop_database(database_url)


def _transactions_left_open(served: Served) -> int:
    """Connections of the app's database inside a transaction nobody is working on
    (PostgreSQL), or 1 if another process cannot take SQLite's write lock at once."""
    url = served.database_url
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert path
        conn = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return 0
        except sqlite3.OperationalError:
            return 1
        finally:
            conn.close()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _cut_off(served: Served, path: str, headers: dict[str, str]) -> int:
    """Ask for `path` with a small receive window, read its first bytes and drop the
    connection (RST), as a client that gives up mid-download does. Returns bytes read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    try:
        sock.connect(("127.0.0.1", served.port))
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n"
        sock.sendall(request.encode())
        first = sock.recv(512)
        time.sleep(0.3)  # let the server fill the window and block on its next write
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return len(first)
    finally:
        sock.close()


def test_fifty_concurrent_exports_leave_no_transaction_open(served: Served) -> None:
    officer = served.signed_in()
    cookie = "; ".join(f"{c.name}={c.value}" for c in officer.cookies)
    lists = ["/public/projects", "/dashboard"]
    bad = ["q=a%00&year=2566", "year=abc", "year=2566&sort=-actual&behind=1&q=a", "unit=nope"]

    def fetch(index: int) -> str:
        try:
            return attempt(index)
        except (OSError, requests.RequestException) as error:
            return f"failed: {error!r}"

    def attempt(index: int) -> str:
        # Five kinds of client, each ten times: on each list in each format, and (the bad
        # filters) each filter on each list.
        kind, turn = index % 5, index // 5
        query = bad[turn // 2 % len(bad)] if kind == 1 else "year=2566"
        fmt = ("csv", "xlsx")[turn // 2 % 2]
        path = f"{lists[turn % 2]}?{query}&format={fmt}"
        headers = {"Cookie": cookie, "User-Agent": officer.headers["User-Agent"]}
        if kind == 0:
            return f"{path} cut after {_cut_off(served, path, headers)} bytes"
        if kind == 2:
            answer = requests.head(served.base + path, headers=headers, timeout=60)
            return f"HEAD {answer.status_code} {path}"
        answer = requests.get(served.base + path, headers=headers, timeout=60)
        return f"{answer.status_code} {len(answer.content)} {path}"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(fetch, range(50)))
    assert any(o.startswith("200 ") and int(o.split()[1]) > 100_000 for o in outcomes), outcomes

    eventually(lambda: _transactions_left_open(served) == 0, timeout=5)
    for path in ("/public/projects?year=2566", "/public/projects?year=2566&format=csv"):
        started = time.monotonic()
        answer = served.get(path)
        assert answer.status_code == 200, answer.text[:300]
        assert time.monotonic() - started < 5
    assert officer.get(served.base + "/dashboard?year=2566", timeout=10).status_code == 200
    assert _transactions_left_open(served) == 0
    refused = [o for o in outcomes if o.startswith(("3", "5", "HEAD 3", "HEAD 5", "failed"))]
    assert not refused, outcomes


def test_an_over_long_request_line_is_answered_in_problem_json(served: Served) -> None:
    for path in ("/api/v1/projects?q=", "/public/projects?q="):
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            line = f"GET {path}{'a' * 9000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            sock.sendall(line.encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414"), head
        assert b"content-type: application/problem+json" in head.lower(), head
        assert b"content-language: th" in head.lower(), head
        problem = json.loads(body)
        assert problem["status"] == 414
        # The headers were never read: in the deployment's language (Thai by default).
        assert problem["title"] == "ที่อยู่ยาวเกินไป"
        assert problem["detail"].startswith("ที่อยู่ยาวเกิน"), problem


def connection_killing_app() -> Flask:
    """The app, whose database connection dies after each answer is made and before the
    request's session is closed (as when PostgreSQL is restarted or kills the backend)."""
    from service import create_app
    from service.core.db import db

    app = create_app()

    @app.after_request
    def kill_the_connection(response: Response) -> Response:
        session = db.session()
        if db.engine.dialect.name == "postgresql":
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            killer = make_engine(app.config["DATABASE_URL"])
            with killer.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killer.dispose()
        else:
            session.connection().connection.dbapi_connection.close()  # type: ignore[union-attr]
        return response

    return app


def test_a_connection_dying_before_teardown_gives_the_apps_answer(served: Served) -> None:
    log = served.log.with_name("killing-web.log")
    with _gunicorn(served.env, log, "tests.test_export_safety:connection_killing_app()") as base:
        for _ in range(6):  # more than the workers, so that each meets a dead connection
            answer = requests.get(base + "/public/projects?year=2566", timeout=30)
            assert answer.status_code == 200, answer.text[:300]
            assert "Content-Security-Policy" in answer.headers
            assert "<html" in answer.text.lower()
        problem = requests.get(base + "/api/v1/nothing-here", timeout=30)
        assert problem.status_code == 404
        assert problem.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("sort", ["code", "-name", "actual", "-gap", "-approved", "unit"])
@pytest.mark.parametrize("public", [False, True])
def test_rows_read_a_chunk_at_a_time_keep_the_listings_order(
    app: Flask, session: Session, sort: str, public: bool
) -> None:
    for n, budget in enumerate(["300.00", "100.00", "200.00", "100.00", "0.00"]):
        make_project(session, owner=unit(session, "50230700"), name=f"เรียง {n}", budget=budget)
    session.flush()
    officer = session.scalar(select(User).where(User.email == OFFICER))
    reader = None if public else officer
    filters = queries.Filters(year=year(session), sort=sort.lstrip("-"), descending="-" in sort)
    today = date(2023, 6, 1)
    with app.app_context():
        listing = queries.project_listing(
            session, reader, filters, today, public_only=public, page_size=10_000
        )
        ids = queries.export_ids(session, reader, filters, today, public_only=public)
        read = partial(queries.rows_of, filters=filters, day=today)
        exported = list(rows_in_chunks(ids, read, chunk=2))
    assert len(exported) >= 6
    assert exported == listing.rows
