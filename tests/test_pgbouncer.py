"""Tidtam behind PgBouncer in transaction pooling mode (issue 13): each transaction may run on
another server connection, so the app prepares nothing on the server and keeps no session
state (advisory locks are transaction-level), and sends no startup options (PgBouncer
refuses them; its database entry sets them with connect_query).

The tests start Debian's pgbouncer on a free loopback port, in front of the run's own
database, and drive through it: the main pages, transitions and the deadline engine of an app
in this process, then two web processes (`make web` on two ports) and two Celery workers
sharing it and Redis, which answer the same and deliver a notification once. PostgreSQL and
Redis stacks only; skipped where pgbouncer is not installed (`apt-get install pgbouncer`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from service.api.auth import new_token
from service.core.db import db, utcnow
from service.core.fiscal import local_today
from service.deadlines.engine import active_rules, run_rule
from service.deadlines.rules import ensure_default_rules
from service.notifications.models import Channel, DeliveryState, Notification
from service.org.models import User
from service.projects.models import Project
from tests.conftest import DEMO_PASSWORDS, login, on_postgres, on_redis
from tests.smtp import free_port, mail_sink
from tests.stack import committed_stack, eventually, make_app
from tests.work_data import school_result
from tests.workers import ROOT, running_worker

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)

pytestmark = [
    pytest.mark.skipif(not on_postgres(), reason="PgBouncer fronts PostgreSQL only"),
    pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer is not installed"),
]

#: What `make web` and the workers get from service.core.db.postgres_options when they
#: connect directly; behind PgBouncer its database entry sets them on each server connection.
CONNECT_QUERY = "SET jit = off; SET random_page_cost = 1.1"

PAGES = ["/dashboard", "/review", "/school", "/projects/{project_id}"]
API_LISTS = ["/api/v1/projects", "/api/v1/results", "/api/v1/allocations"]


@contextmanager
def pgbouncer(database_url: str, log: Path) -> Iterator[str]:
    """A pgbouncer (pool_mode=transaction, auth_type=trust) on a free loopback port in front
    of `database_url`'s database; yields the URL to reach that database through it. Run as
    `nobody` when the tests run as root (pgbouncer refuses root): its files sit in a folder
    of their own that it can read, and it logs to `log` through its stderr."""
    url = make_url(database_url)
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="tidtam-pgbouncer-"))
    folder.chmod(0o755)
    target = f"host={url.host or '127.0.0.1'} port={url.port or 5432} dbname={url.database}"
    if url.password:
        target += f" password={url.password}"
    user = url.username or "postgres"
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{url.database} = {target} connect_query='{CONNECT_QUERY}'\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 200\n"
        "default_pool_size = 8\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for path in folder.iterdir():
        path.chmod(0o644)
    as_nobody = ["-u", "nobody"] if os.geteuid() == 0 else []
    assert PGBOUNCER is not None
    with log.open("ab") as output:
        process = subprocess.Popen(
            [PGBOUNCER, *as_nobody, str(folder / "pgbouncer.ini")],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    bounced = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    plain = make_url(bounced).set(drivername="postgresql").render_as_string(hide_password=False)

    def answers() -> bool:
        try:
            with psycopg.connect(plain, connect_timeout=2) as conn:
                return conn.execute("SHOW jit").fetchone() == ("off",)
        except psycopg.OperationalError:
            return False

    try:
        eventually(answers, timeout=20, interval=0.2)
        yield bounced
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def bounced_env(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, "DATABASE_URL": url, "DATABASE_PGBOUNCER": "1"}


@contextmanager
def web(env: dict[str, str], log: Path) -> Iterator[str]:
    """`make web` (one gunicorn worker) on a free port; yields its base URL."""
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "web"],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "WEB_CONCURRENCY": "1",
            },
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        eventually(up, timeout=120, interval=0.3)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _token(app: Flask, email: str) -> str:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        _row, token = new_token(db.session, user, "pgbouncer test")
        db.session.commit()
    return token


def test_the_app_refuses_nothing_behind_pgbouncer(tmp_path: Path) -> None:
    """Pages and transitions through PgBouncer, each statement many more times than psycopg's
    auto-prepare threshold, on server connections shared in turn with another client."""
    with (
        committed_stack(tmp_path, "bouncer_pages") as stack,
        pgbouncer(stack.database_url, tmp_path / "pgbouncer.log") as bounced,
    ):
        app = make_app(bounced_env(stack.env, bounced))
        try:
            with app.app_context():
                project_id = db.session.scalar(select(Project.id).order_by(Project.id))
                result_id = school_result(db.session).id
                # A server connection's own settings come from connect_query, not options.
                assert db.session.scalar(text("SHOW jit")) == "off"
                db.session.rollback()
            school = _token(app, "school@demo.tidtam.local")
            officer = _token(app, "officer@demo.tidtam.local")
            client = app.test_client()
            email = "officer@demo.tidtam.local"
            login(client, email, DEMO_PASSWORDS[email])
            # Another client holds a transaction meanwhile, so PgBouncer hands this app's
            # transactions to different server connections.
            plain = make_url(bounced).set(drivername="postgresql")
            with psycopg.connect(plain.render_as_string(hide_password=False)) as other:
                for _ in range(8):
                    other.execute("SELECT 1")
                    for path in PAGES:
                        url = path.format(project_id=project_id)
                        assert client.get(url).status_code == 200, url
                    other.commit()
                    for path in API_LISTS:
                        answer = client.get(path, headers={"Authorization": f"Bearer {officer}"})
                        assert answer.status_code == 200, path
                    transitions = f"/api/v1/results/{result_id}/transitions"
                    submitted = client.post(
                        f"{transitions}/submit",
                        json={"completion": "40.00", "narrative": "ผ่าน pgbouncer"},
                        headers={"Authorization": f"Bearer {school}"},
                    )
                    assert submitted.status_code == 200, submitted.get_data(as_text=True)
                    returned = client.post(
                        f"{transitions}/return",
                        json={"reason": "ขอหลักฐานเพิ่ม"},
                        headers={"Authorization": f"Bearer {officer}"},
                    )
                    assert returned.status_code == 200, returned.get_data(as_text=True)
            # The deadline engine: the rules seeded under a transaction-level advisory lock,
            # each rule staged in a temporary table dropped at commit; run twice, the second
            # run finds every reminder made already.
            with app.app_context():
                ensure_default_rules(db.session)
                db.session.commit()
                made = []
                for _round in range(2):
                    count = 0
                    for rule in active_rules(db.session):
                        count += len(
                            run_rule(
                                db.session,
                                rule,
                                today=local_today(),
                                now=utcnow(),
                                requeue_after=timedelta(minutes=10),
                            )
                        )
                        db.session.commit()
                    made.append(count)
                assert made[1] == 0, made
        finally:
            app.extensions["celery"].close()
            app.extensions["tidtam.db"].dispose()


@pytest.mark.worker
@pytest.mark.skipif(not on_redis(), reason="the workers share Redis")
def test_two_webs_and_two_workers_share_pgbouncer(tmp_path: Path) -> None:
    with (
        mail_sink() as sink,
        committed_stack(tmp_path, "bouncer_pair", **sink.env()) as stack,
        pgbouncer(stack.database_url, tmp_path / "pgbouncer.log") as bounced,
        ExitStack() as processes,
    ):
        env = bounced_env(stack.env, bounced)
        school = _token(stack.app, "school@demo.tidtam.local")
        officer = _token(stack.app, "officer@demo.tidtam.local")
        with stack.app.app_context():
            result_id = school_result(db.session).id
            db.session.rollback()
        for index in (1, 2):
            processes.enter_context(
                running_worker(env, queues="notifications", log=tmp_path / f"worker{index}.log")
            )
        first = processes.enter_context(web(env, tmp_path / "web1.log"))
        second = processes.enter_context(web(env, tmp_path / "web2.log"))
        as_school = {"Authorization": f"Bearer {school}"}
        as_officer = {"Authorization": f"Bearer {officer}"}

        def same_answers() -> None:
            for path in [*API_LISTS, f"/api/v1/results/{result_id}"]:
                answers = [
                    requests.get(base + path, headers=as_officer, timeout=30)
                    for base in (first, second)
                ]
                assert [a.status_code for a in answers] == [200, 200], path
                assert answers[0].json() == answers[1].json(), path

        same_answers()
        transitions = f"/api/v1/results/{result_id}/transitions"
        submitted = requests.post(
            f"{first}{transitions}/submit",
            json={"completion": "60.00", "narrative": "สองเครื่อง"},
            headers=as_school,
            timeout=30,
        )
        assert submitted.status_code == 200, submitted.text
        returned = requests.post(
            f"{second}{transitions}/return",
            json={"reason": "ส่งกลับผ่านอีกเครื่อง"},
            headers=as_officer,
            timeout=30,
        )
        assert returned.status_code == 200, returned.text
        same_answers()
        assert (
            requests.get(
                f"{first}/api/v1/results/{result_id}", headers=as_school, timeout=30
            ).json()["state"]
            == "returned"
        )

        def emails() -> Counter[DeliveryState]:
            with stack.app.app_context():
                states = Counter(
                    db.session.scalars(
                        select(Notification.state).where(Notification.channel == Channel.EMAIL)
                    )
                )
                db.session.rollback()
            return states

        def all_sent() -> bool:
            states = emails()
            return bool(states) and set(states) == {DeliveryState.SENT}

        eventually(all_sent, timeout=90, interval=0.5)
        time.sleep(2.0)  # anything sent twice would arrive now
        sent = emails()[DeliveryState.SENT]
        with stack.app.app_context():
            returned_mails = db.session.scalar(
                select(func.count(Notification.id)).where(
                    Notification.channel == Channel.EMAIL,
                    Notification.kind == "step_result.return",
                    Notification.state == DeliveryState.SENT,
                )
            )
            db.session.rollback()
    keys = Counter(str(m.message["X-Tidtam-Delivery"]) for m in sink.mails)
    assert len(sink.mails) == sent >= 1
    assert set(keys.values()) == {1}, f"sent twice: {[k for k, n in keys.items() if n > 1]}"
    assert returned_mails == 1  # the school is told once that its result came back
