"""Web benchmarks: the district dashboard, the project page and the main API lists under N
concurrent clients, beside a bare Flask endpoint doing one primary-key SELECT on the same
database, both served by gunicorn with the same workers (the real app by `make web` itself).
Also the peak memory of the web processes."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pyotp
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bench import load
from bench.processes import ROOT, free_port, peak_rss_mb, started, wait_for
from service.core.db import make_engine

BENCH_USER_UNIT = "50010000"  # a generated district office
YEAR = 2566
PAGE_TARGET_P95_MS = 100.0
API_TARGET_RATIO = 0.5

# (key, what, candidate paths (the first that is not 404 is measured), kind)
URLS: list[tuple[str, str, list[str], str]] = [
    ("dashboard", "district dashboard", [f"/dashboard?year={YEAR}"], "page"),
    ("project", "project page", ["/projects/{project_id}"], "page"),
    ("api_projects", "API project list", [f"/api/v1/projects?fiscal_year={YEAR}"], "api"),
    ("api_results", "API step-result list", ["/api/v1/step-results", "/api/v1/results"], "api"),
]


def first_views(key: str, subjects: dict[str, Any]) -> list[str]:
    """Many different pages of one kind, each asked for once or twice: what a page costs
    when the database has not just read the same rows for the same URL."""
    if key == "project":
        return [f"/projects/{ident}" for ident in subjects["other_project_ids"]]
    if key == "dashboard":
        pages = max(1, len(subjects["other_project_ids"]) // 50)
        return [
            f"/dashboard?year={YEAR}&sort={direction}{sort}&page={page}"
            for page in range(1, pages + 1)
            for sort in ("code", "name", "unit", "actual", "planned", "gap", "overdue", "paid")
            for direction in ("", "-")
        ]
    if key == "api_projects":
        count = len(subjects["other_project_ids"])
        return [
            f"/api/v1/projects?fiscal_year={YEAR}&per_page={size}&page={page}"
            for size in (10, 20, 25, 50)
            for page in range(1, count // size + 1)
        ]
    if key == "api_results":
        return [f"/api/v1/results?page={page}" for page in range(1, 301)]
    return []


_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def web_workers() -> str:
    # What `make web` uses: a worker per core.
    return os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 1))


def app_environment(database_url: str, redis_url: str, instance: str) -> dict[str, str]:
    """The environment of a production web or worker process on the bench database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_KEY_PREFIX": "tidtam-bench:",
        "SECRET_KEY": secrets.token_hex(32),
        "TIDTAM_ENV": "production",
        "TIDTAM_INSTANCE": instance,
    }


def _bench_subjects(database_url: str) -> dict[str, Any]:
    """Who signs in (the head approver of a generated district), a project page of that
    district in the year, and an API token for the same person."""
    from service.api.auth import new_token
    from service.org.models import User
    from tools.generate import EMAIL_DOMAIN, GENERATED_PASSWORD

    email = f"approver1.{BENCH_USER_UNIT}@{EMAIL_DOMAIN}"
    engine = make_engine(database_url)
    with Session(engine) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        # A project at the 90th percentile of size (results) of the district's year: heavier
        # than most pages people open, without being the one largest.
        sizes = session.execute(
            text(
                "SELECT p.id, (SELECT count(*) FROM plan_step s JOIN step_result r "
                "ON r.step_id = s.id WHERE s.project_id = p.id) AS n FROM project p "
                "JOIN org_unit o ON o.id = p.owner_unit_id "
                "JOIN fiscal_year f ON f.id = p.fiscal_year_id "
                "WHERE o.code = :unit AND f.be_year = :year ORDER BY n, p.id"
            ),
            {"unit": BENCH_USER_UNIT, "year": YEAR},
        ).all()
        project_id = sizes[int(len(sizes) * 0.9)].id
        others = [row.id for row in sizes if row.id != project_id]
        bare_id = session.execute(text("SELECT max(id) / 2 FROM project")).scalar_one()
        _row, token = new_token(session, user, "bench")
        fresh_second_factor(session, [email])
        session.commit()
    engine.dispose()
    return {
        "email": email,
        "password": GENERATED_PASSWORD,
        "project_id": project_id,
        "other_project_ids": others,
        "bare_id": bare_id,
        "token": token,
    }


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


_TOTP_KEY = re.compile(r'id="totp-secret">([A-Z2-7]+)<')


def fresh_second_factor(session: Session, emails: list[str]) -> None:
    """Forget the second factor of the bench's people, so that each run signs them in as
    production asks an approver or an admin the first time: enrolling with the key the page
    shows (the key of an earlier run is not kept anywhere)."""
    session.execute(
        text(
            "UPDATE app_user SET totp_secret = NULL, totp_enabled_at = NULL, "
            "totp_last_step = NULL WHERE email = ANY(:emails)"
        ),
        {"emails": emails},
    )


def _exchange(
    base: str, method: str, path: str, jar: dict[str, str], body: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """One request with the jar's cookies (updated from the answer): status, Location, body."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    encoded = None
    if body is not None:
        encoded = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, encoded, headers)
    response = connection.getresponse()
    page = response.read().decode()
    _cookies(response, jar)
    connection.close()
    return response.status, response.getheader("Location") or "", page


def _form_token(page: str, where: str) -> str:
    match = _CSRF.search(page)
    if not match:
        raise RuntimeError(f"no CSRF token on {where}")
    return match.group(1)


def login(base: str, email: str, password: str) -> str:
    """Sign in through the login form, and through the second factor when production asks
    for one (an approver, an admin: enrolling with the key the page shows, see
    `fresh_second_factor`); returns the Cookie header of the signed-in session. Raises
    RuntimeError when a step refuses or the session does not open a page."""
    jar: dict[str, str] = {}
    _status, _where, page = _exchange(base, "GET", "/login", jar)
    form = {"csrf_token": _form_token(page, "/login"), "email": email, "password": password}
    status, where, _page = _exchange(base, "POST", "/login", jar, form)
    if status != 302:
        raise RuntimeError(f"login as {email} answered {status}")
    if urlsplit(where).path == "/login/second-factor":
        _status, _where, page = _exchange(base, "GET", "/login/second-factor", jar)
        key = _TOTP_KEY.search(page)
        if not key:
            raise RuntimeError(f"{email} has a second factor the bench does not know")
        code = pyotp.TOTP(key.group(1)).now()
        form = {"csrf_token": _form_token(page, "/login/second-factor"), "code": code}
        status, _where, _page = _exchange(base, "POST", "/login/second-factor", jar, form)
        if status not in (200, 302):
            raise RuntimeError(f"the second factor of {email} answered {status}")
    status, where, _page = _exchange(base, "GET", "/account", jar)
    if status != 200:
        raise RuntimeError(f"signed in as {email}, /account answered {status} {where}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def status_of(url: str, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(
        "GET", parts.path + (f"?{parts.query}" if parts.query else ""), None, headers
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _load(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """Warm up with a few requests one after another (a concurrent warm-up would leave slow
    pages queued into the measurement), time one request alone, then load."""
    alone = []
    for _ in range(2 * int(web_workers()) + 1):
        started = time.perf_counter()
        status_of(url, headers)
        alone.append(time.perf_counter() - started)
    figures = load.measure(url, headers, clients, seconds)
    figures["alone_ms"] = round(sorted(alone)[len(alone) // 2] * 1000, 1)
    return figures


def _fmt(figures: dict[str, Any]) -> str:
    alone = f" (alone {figures['alone_ms']:,.0f} ms)" if "alone_ms" in figures else ""
    if not figures["requests"]:
        return f"no answer completed in {figures['seconds']:g} s{alone}"
    return (
        f"p50 {figures['p50_ms']:,.1f} / p95 {figures['p95_ms']:,.1f} ms, "
        f"{figures['rps']:,.0f}/s{alone}"
    )


def run(
    database_url: str,
    redis_url: str,
    clients: int,
    seconds: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    subjects = _bench_subjects(database_url)
    result: dict[str, Any] = {
        "generator": load.generator_name(),
        "clients": clients,
        "seconds": seconds,
        "web_workers": web_workers(),
        "user": subjects["email"],
        "urls": {},
    }
    logs = Path(tempfile.mkdtemp(prefix="tidtam-bench-web-"))
    env = app_environment(database_url, redis_url, str(logs / "instance"))
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bare_command = [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", web_workers()]
    bare_command += ["--access-logfile", "-", "bench.bare_app:create_app()"]
    with started(bare_command, env, logs / "bare.log"):
        wait_for(f"{base}/healthz")
        bare = _load(f"{base}/bare/{subjects['bare_id']}", {}, clients, seconds)
    result["bare"] = bare
    say(f"  bare primary-key endpoint: {_fmt(bare)} ({bare['generator']})")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": web_workers()}
    with started(["make", "--no-print-directory", "web"], web_env, logs / "web.log") as web:
        wait_for(f"{base}/healthz")
        cookie = login(base, subjects["email"], subjects["password"])
        for key, what, candidates, kind in URLS:
            headers = (
                {"Authorization": f"Bearer {subjects['token']}"}
                if kind == "api"
                else {"Cookie": cookie}
            )
            figures: dict[str, Any] = {"what": what, "kind": kind}
            for candidate in candidates:
                path = candidate.format(project_id=subjects["project_id"])
                status = status_of(base + path, headers)
                figures.update(path=path, status=status)
                if status != 404:
                    break
            if figures["status"] == 200:
                figures.update(_load(base + figures["path"], headers, clients, seconds))
                say(f"  {what} {figures['path']}: {_fmt(figures)}")
            else:
                say(f"  {what} {figures['path']}: answered {figures['status']}, not measured")
            result["urls"][key] = figures
            paths = first_views(key, subjects) if figures["status"] == 200 else []
            if paths:
                first = {
                    "what": f"{what}, first views of {len(paths)} different pages",
                    "kind": kind,
                    "path": paths[0] + " …",
                    "status": 200,
                    **load.measure(base + paths[0], headers, clients, seconds, paths),
                }
                say(f"  {first['what']}: {_fmt(first)}")
                result["urls"][f"{key}_first_views"] = first
        result["memory"] = peak_rss_mb(web.pid)
    result["logs"] = str(logs)
    result["figures"] = _figures(result)
    return result


def _figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    bare = result["bare"]
    rows: list[dict[str, Any]] = []
    for figures in result["urls"].values():
        row: dict[str, Any] = {
            "name": f"{figures['what']} {figures['path']}",
            "baseline_name": "bare primary-key SELECT endpoint",
            "baseline_text": _fmt(bare),
        }
        if figures["status"] != 200:
            row.update(
                value=None,
                value_text="not built yet"
                if figures["status"] == 404
                else f"HTTP {figures['status']}",
                met=None,
                target=f"p95 < {PAGE_TARGET_P95_MS:.0f} ms"
                if figures["kind"] == "page"
                else f"≥ {API_TARGET_RATIO}× bare req/s",
            )
            rows.append(row)
            continue
        ratio = figures["rps"] / bare["rps"] if bare["rps"] else 0.0
        row.update(
            value=figures["p95_ms"] if figures["kind"] == "page" else figures["rps"],
            unit="ms" if figures["kind"] == "page" else "/s",
            value_text=_fmt(figures)
            + (f", {figures['errors']} errors" if figures["errors"] else ""),
            baseline=bare["p95_ms"] if figures["kind"] == "page" else bare["rps"],
            ratio=round(ratio, 3),
            ratio_text=f"{ratio:.2f}× req/s",
        )
        if figures["kind"] == "page":
            row.update(
                target=f"p95 < {PAGE_TARGET_P95_MS:.0f} ms",
                met=bool(figures["requests"])
                and figures["p95_ms"] < PAGE_TARGET_P95_MS
                and not figures["errors"],
            )
        else:
            row.update(
                target=f"≥ {API_TARGET_RATIO}× bare req/s",
                met=ratio >= API_TARGET_RATIO and not figures["errors"],
            )
        rows.append(row)
    memory = result.get("memory")
    if memory:
        rows.append(
            {
                "name": f"web peak memory ({memory['processes']} gunicorn processes)",
                "value": memory["largest_mb"],
                "unit": "MB",
                "value_text": f"{memory['largest_mb']:.0f} MB largest, "
                f"{memory['total_mb']:.0f} MB together",
                "baseline_text": "—",
                "target": "—",
                "met": None,
            }
        )
    return rows
