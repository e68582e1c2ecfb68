"""Kept page parts: the dashboard's listing and the project page's body are rendered once per
data stamp, and every commit that writes what they show is seen on the next request."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from service.cli import alembic_config
from service.core import data_stamp, page_cache
from service.core.db import make_engine
from service.fiscal.models import FiscalYear
from service.notifications.models import Channel, Notification
from service.org.models import Role, User
from service.projects.models import Project
from tests.conftest import DEMO_PASSWORDS, create_database, drop_database, login
from tests.html_text import visible_text
from tests.project_data import make_user, unit
from tests.sql_count import counting

_TOKEN_IN_MAIN = re.compile(r'<main.*?name="csrf_token" value="([^"]+)"', re.DOTALL)


def stamp(session: Session) -> str:
    value = session.scalar(select(data_stamp.DataStamp.value))
    assert value
    return value


def demo_project(session: Session) -> Project:
    found = session.scalar(select(Project).order_by(Project.id))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        ("INSERT INTO project (code) VALUES (%(code)s)", True),
        ('UPDATE "step_result" SET state=%(state)s', True),
        ("DELETE FROM allocation WHERE id = ?", True),
        ("TRUNCATE TABLE plan_step, project CASCADE", True),
        ("WITH moved AS (SELECT 1) UPDATE evaluation SET score = 1", True),
        ("INSERT INTO notification (user_id) VALUES (1)", False),
        ("UPDATE api_token SET last_used_at = now()", False),
        ("INSERT INTO outbox_event (kind) VALUES ('x')", False),
        ("INSERT INTO kombu_message (payload) VALUES ('x')", False),
        ("SELECT * FROM project FOR UPDATE", False),
        ("  select id from project where name = 'UPDATE project'", False),
    ],
)
def test_which_statements_change_the_stamp(statement: str, shown: bool) -> None:
    assert data_stamp.writes_shown_data(statement) is shown


def test_a_commit_that_writes_a_project_changes_the_stamp_and_a_rollback_does_not(
    session: Session,
) -> None:
    before = stamp(session)
    demo_project(session).name = "ชื่อใหม่"
    session.commit()
    after = stamp(session)
    assert after != before

    demo_project(session).name = "ชื่อที่ไม่เกิด"
    session.flush()
    session.rollback()
    assert stamp(session) == after


def test_real_commits_change_the_stamp_and_migrations_run_with_it_watched(
    tmp_path: Path,
) -> None:
    """Outside the tests' savepoints: an engine's own COMMIT (the embedded SQLite and
    PostgreSQL alike), and migrations that write before data_stamp exists."""
    url = create_database(tmp_path, "stamp")
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(url), "head")

        def current() -> str:
            with engine.connect() as conn:
                return str(conn.scalar(select(data_stamp.DataStamp.value)))

        first = current()
        with engine.begin() as conn:
            conn.execute(
                insert(FiscalYear).values(
                    be_year=2599, starts_on=date(2055, 10, 1), ends_on=date(2056, 9, 30)
                )
            )
        second = current()
        assert second != first
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.execute(update(FiscalYear).values(is_open=False))
            raise RuntimeError("the write is rolled back")
        assert current() == second
    finally:
        engine.dispose()
        drop_database(url)


def test_notifications_leave_the_stamp_alone(session: Session) -> None:
    before = stamp(session)
    user = session.scalar(select(User).where(User.email == "officer@demo.tidtam.local"))
    assert user is not None
    session.add(
        Notification(
            recipient_id=user.id,
            kind="test",
            object_type="project",
            object_id=demo_project(session).id,
            channel=Channel.IN_APP,
            delivery_key="test-page-cache",
        )
    )
    session.commit()
    assert stamp(session) == before


def test_the_dashboard_is_rendered_once_and_a_committed_change_is_seen_at_once(
    app: Flask, session: Session, login_as
) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = login_as("officer")
    with counting(app.extensions["tidtam.db"]) as first:
        page = client.get("/dashboard").get_data(as_text=True)
    project = demo_project(session)
    assert project.code in page
    with counting(app.extensions["tidtam.db"]) as again:
        client.get("/dashboard")
    # The kept listing skips its queries: what is left is the stamp, the reader and roles.
    assert len(again) < len(first) / 2, again

    project.name = "โครงการที่เปลี่ยนชื่อแล้ว"
    session.commit()
    assert "โครงการที่เปลี่ยนชื่อแล้ว" in visible_text(client.get("/dashboard").get_data(as_text=True))


def test_a_kept_part_is_never_shown_to_another_reader(session: Session, app: Flask) -> None:
    project = demo_project(session)
    stranger, password = make_user(
        session, Role.OFFICER, unit(session, "50230000"), "other-officer@test.local"
    )
    session.commit()
    officer = app.test_client()
    login(officer, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    other = app.test_client()
    login(other, stranger.email, password)
    officer.get(f"/projects/{project.id}")
    page = other.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "ผู้ทดสอบ other-officer" in page  # the layout is the reader's own
    with counting(app.extensions["tidtam.db"]) as sent:
        other.get(f"/projects/{project.id}")
    assert len(sent) <= 8, sent


def test_forms_in_a_kept_part_carry_each_sessions_own_csrf_token(
    session: Session, app: Flask
) -> None:
    project = demo_project(session)
    tokens = []
    for _ in range(2):
        client = app.test_client()
        login(client, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
        page = client.get(f"/projects/{project.id}").get_data(as_text=True)
        assert page_cache.CSRF_PLACEHOLDER not in page
        match = _TOKEN_IN_MAIN.search(page)
        assert match, "the officer's project page offers no action"
        tokens.append(match.group(1))
        # The token in the kept part is this session's: signing out with it works.
        assert client.post("/logout", data={"csrf_token": match.group(1)}).status_code == 302
    assert tokens[0] != tokens[1]


def test_a_request_that_wrote_and_has_not_committed_renders_afresh(
    session: Session, login_as
) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = login_as("officer")
    project = demo_project(session)
    client.get(f"/projects/{project.id}")
    project.name = "ยังไม่ได้บันทึก"
    session.flush()  # the requests share the test's connection, and see this
    assert "ยังไม่ได้บันทึก" in client.get(f"/projects/{project.id}").get_data(as_text=True)


def test_an_unreachable_cache_costs_speed_not_pages(app: Flask, session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = login_as("officer")
    project = demo_project(session)
    saved = app.extensions["cache"][page_cache.cache]
    unreachable = page_cache.Cache()
    unreachable.init_app(
        app,
        config={
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": "redis://127.0.0.1:1/0",
            "CACHE_OPTIONS": {"socket_connect_timeout": 0.2},
        },
    )
    app.extensions["cache"][page_cache.cache] = app.extensions["cache"][unreachable]
    try:
        response = client.get(f"/projects/{project.id}")
    finally:
        app.extensions["cache"][page_cache.cache] = saved
    assert response.status_code == 200
    assert project.code in response.get_data(as_text=True)


def test_an_api_list_is_kept_per_caller_and_a_committed_change_is_seen(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    from service.api.auth import new_token

    officer = session.scalar(select(User).where(User.email == "officer@demo.tidtam.local"))
    assert officer is not None
    _row, token = new_token(session, officer, "test")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    project = demo_project(session)
    first = client.get("/api/v1/projects?per_page=5", headers=headers)
    assert first.status_code == 200
    with counting(app.extensions["tidtam.db"]) as sent:
        again = client.get("/api/v1/projects?per_page=5", headers=headers)
    assert again.get_json() == first.get_json()
    assert again.mimetype == "application/json"
    assert not any("FROM project" in statement for statement in sent), sent

    project.name = "ชื่อผ่าน API ที่เปลี่ยนแล้ว"
    session.commit()
    names = [p["name"] for p in client.get("/api/v1/projects", headers=headers).get_json()["items"]]
    assert "ชื่อผ่าน API ที่เปลี่ยนแล้ว" in names
