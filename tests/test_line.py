"""LINE (issue 15): people and unit groups linked through signed webhook events and one-time
codes; notifications pushed through the real line-bot-sdk to a local stand-in for
api.line.me that checks path, bearer token and body; one message per group per event and one
POST per webhook endpoint (the same worker run); and exactly once through a worker killed
while LINE held the push."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.audit.operations import emit
from service.core.db import db, utcnow
from service.notifications.models import (
    Channel,
    DeliveryMode,
    DeliveryState,
    LineAccount,
    LineGroup,
    Notification,
    WebhookEndpoint,
)
from service.notifications.operations import (
    make_line_code,
    relay_outbox,
    set_preference,
)
from service.notifications.webhook import DELIVERY_HEADER, SIGNATURE_HEADER
from service.org.models import OrgUnit, Role, User
from service.org.operations import grant_role
from tests.conftest import csrf_token
from tests.http_sink import http_sink
from tests.line_sink import PUSH_PATH, line_sink
from tests.stack import committed_stack, eventually
from tests.work_data import school_result, unit, user
from tests.workers import running_worker

SECRET = "test-channel-secret"
SCHOOL_UNIT = "5023077101"
LINE_USER = "U" + "a" * 32
GROUP = "C" + "b" * 32


def signed(body: str, secret: str = SECRET) -> str:
    """X-Line-Signature as LINE computes it: base64 of HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _event(kind: str, source: dict[str, str], text: str = "") -> dict[str, object]:
    event: dict[str, object] = {
        "type": kind,
        "mode": "active",
        "timestamp": 1733450000000,
        "source": source,
        "webhookEventId": "01HX" + kind.upper(),
        "deliveryContext": {"isRedelivery": False},
    }
    if kind in ("message", "join"):
        event["replyToken"] = "r" * 32
    if kind == "message":
        event["message"] = {"type": "text", "id": "1", "text": text, "quoteToken": "q"}
    return event


def _body(*events: dict[str, object]) -> str:
    return json.dumps({"destination": "Ubot", "events": list(events)})


def _post(client: FlaskClient, body: str, signature: str) -> int:
    return client.post(
        "/line/webhook",
        data=body.encode(),
        headers={"X-Line-Signature": signature, "Content-Type": "application/json"},
    ).status_code


def _second_school_user(session: Session) -> User:
    """Another teacher at the demo school: the event tells two people of the unit."""
    teacher = User(email="teacher2@test.tidtam.local", name="ครูสมชาย", password_hash="!")
    session.add(teacher)
    session.flush()
    grant_role(session, teacher, Role.SCHOOL, unit(session, SCHOOL_UNIT))
    return teacher


@pytest.fixture
def line_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setitem(app.config, "LINE_CHANNEL_SECRET", SECRET)
    monkeypatch.setitem(app.config, "LINE_CHANNEL_ACCESS_TOKEN", "token")
    return app


def test_webhook_links_a_person_and_a_group_and_refuses_wrong_signatures(
    line_app: Flask, session: Session, login_as
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    token = csrf_token(client, "/notifications/settings")
    page = client.post("/notifications/line/code", data={"csrf_token": token})
    assert page.headers["Cache-Control"] == "no-store"
    code = page.get_data(as_text=True).split('data-testid="line-code">')[1].split("<")[0]
    assert len(code) == 8 and code.isdigit()
    school = user(session, "school")

    send_code = _body(_event("message", {"type": "user", "userId": LINE_USER}, code))
    # Wrongly signed (another secret), altered after signing, unsigned: refused, nothing kept.
    assert _post(client, send_code, signed(send_code, "another-secret")) == 400
    assert _post(client, send_code.replace(code, "12345678"), signed(send_code)) == 400
    assert _post(client, send_code, "") == 400
    assert session.scalar(select(LineAccount).where(LineAccount.user_id == school.id)) is None

    assert _post(client, send_code, signed(send_code)) == 200
    account = session.scalar(select(LineAccount).where(LineAccount.user_id == school.id))
    assert account is not None and account.line_user_id == LINE_USER
    # The code is spent: sent again (or by someone else) it links nothing.
    other = _body(_event("message", {"type": "user", "userId": "U" + "c" * 32}, code))
    assert _post(client, other, signed(other)) == 200
    session.refresh(account)
    assert account.line_user_id == LINE_USER
    linked = client.get("/notifications/settings").get_data(as_text=True)
    assert "เชื่อมบัญชีไลน์ของท่านแล้ว" in linked
    assert 'name="step_result.accept:line"' in linked  # LINE's choices once it reaches them

    # A group: the bot is invited (join), an officer's unit code is typed in it.
    joined = _body(_event("join", {"type": "group", "groupId": GROUP}))
    assert _post(client, joined, signed(joined)) == 200
    group = session.scalar(select(LineGroup).where(LineGroup.group_id == GROUP))
    assert group is not None and group.unit_id is None
    school_unit = unit(session, SCHOOL_UNIT)
    # The school user holds no officer or admin role: makes no code for a group.
    from service.workflow.engine import Refused

    with pytest.raises(Refused):
        make_line_code(session, school, unit=school_unit, now=utcnow())
    officer_code = make_line_code(session, user(session, "admin"), unit=school_unit, now=utcnow())
    session.flush()
    typed = _body(
        _event(
            "message",
            {"type": "group", "groupId": GROUP, "userId": LINE_USER},
            officer_code.code[:4] + " " + officer_code.code[4:],
        )
    )
    assert _post(client, typed, signed(typed)) == 200
    session.refresh(group)
    assert group.unit_id == school_unit.id
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"line_account.link", "line_group.join", "line_group.link"} <= actions

    # Each link is confirmed to whoever linked it: the person hears it on LINE at once.
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    told = dict(
        session.execute(
            select(Notification.kind, Notification.recipient_id).where(
                Notification.channel == Channel.LINE
            )
        ).all()
    )
    assert told == {"line_account.link": school.id}
    admin_told = session.scalar(
        select(Notification.recipient_id).where(Notification.kind == "line_group.link")
    )
    assert admin_told == user(session, "admin").id


def _relay(session: Session, kind: str = "step_result.return") -> int:
    event = emit(
        session,
        kind=kind,
        object_type="step_result",
        object_id=school_result(session).id,
        payload={"reason": "แนบหลักฐานไม่ครบ"},
    )
    session.flush()
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    return event.id


def _link(session: Session, person: User, line_id: str) -> None:
    session.add(LineAccount(user_id=person.id, line_user_id=line_id, linked_at=utcnow()))
    session.flush()


def test_line_rows_follow_preferences_and_a_group_gets_one_per_event(session: Session) -> None:
    school = user(session, "school")
    teacher = _second_school_user(session)
    _link(session, school, LINE_USER)
    _link(session, teacher, "U" + "d" * 32)
    school_unit = unit(session, SCHOOL_UNIT)
    session.add(LineGroup(group_id=GROUP, unit_id=school_unit.id, linked_at=utcnow()))
    set_preference(session, teacher, "step_result.return", Channel.LINE, DeliveryMode.OFF)
    session.flush()
    event_id = _relay(session)
    rows = session.execute(
        select(Notification.recipient_id, Notification.line_group_id, Notification.state)
        .where(
            Notification.channel == Channel.LINE,
            Notification.delivery_key.startswith(f"event:{event_id}:"),
        )
        .order_by(Notification.delivery_key)
    ).all()
    personal = [r for r in rows if r.line_group_id is None]
    grouped = [r for r in rows if r.line_group_id is not None]
    assert [r.recipient_id for r in personal] == [school.id]  # the teacher chose off
    assert len(grouped) == 1  # two people of the unit told, one message to its group
    assert grouped[0].recipient_id == min(school.id, teacher.id)

    set_preference(session, school, "*", Channel.LINE, DeliveryMode.DIGEST)
    event_id = _relay(session)
    state = session.scalar(
        select(Notification.state).where(
            Notification.delivery_key == f"event:{event_id}:user:{school.id}:line"
        )
    )
    assert state is DeliveryState.DIGEST


# -- through a real worker --------------------------------------------------------------------


def _setup_links(stack_app: Flask) -> tuple[int, int]:
    """The demo school user linked to LINE, a second teacher unlinked, the school's group."""
    with stack_app.app_context():
        session = db.session()
        school = session.scalars(select(User).where(User.email == "school@demo.tidtam.local")).one()
        _second_school_user(session)
        _link(session, school, LINE_USER)
        school_unit = session.scalars(select(OrgUnit).where(OrgUnit.code == SCHOOL_UNIT)).one()
        session.add(LineGroup(group_id=GROUP, unit_id=school_unit.id, linked_at=utcnow()))
        session.commit()
        return school.id, school_unit.id


def _commit_return(stack_app: Flask) -> None:
    with stack_app.app_context():
        emit(
            db.session,
            kind="step_result.return",
            object_type="step_result",
            object_id=school_result(db.session).id,
            payload={"to": "returned", "reason": "แนบหลักฐานไม่ครบ"},
        )
        db.session.commit()


def _line_states(stack_app: Flask) -> list[tuple[str, int]]:
    with stack_app.app_context():
        rows = db.session.execute(
            select(Notification.state, Notification.attempts)
            .where(Notification.channel == Channel.LINE)
            .order_by(Notification.id)
        ).all()
        db.session.rollback()
    return [(s.value, a) for s, a in rows]


@pytest.mark.worker
def test_a_person_a_units_group_and_its_endpoint_hear_each_event_once(
    tmp_path: Path, app: Flask
) -> None:
    """Two teachers of the school are told of a returned result: the linked teacher gets one
    LINE message, the school's LINE group one, the school's webhook endpoint one POST
    (signed, its delivery id in the header and the body), through a real worker."""
    secret = "per-endpoint-secret"
    with (
        line_sink() as sink,
        http_sink() as hooks,
        committed_stack(
            tmp_path, "line", MAIL_PORT="9", WEBHOOK_ALLOW_PRIVATE_ADDRESSES="1", **sink.env()
        ) as stack,
    ):
        _school_id, unit_id = _setup_links(stack.app)
        with stack.app.app_context():
            db.session.add(WebhookEndpoint(unit_id=unit_id, url=hooks.url, secret=secret, name=""))
            db.session.commit()
        with running_worker(stack.env, queues="notifications", log=tmp_path / "worker.log"):
            _commit_return(stack.app)
            eventually(lambda: len(sink.delivered) == 2 and len(hooks.posts) == 1, timeout=60)
            stack.send("tidtam.outbox.relay")  # as beat does: nothing more
            eventually(
                lambda: [s for s, _a in _line_states(stack.app)] == ["sent", "sent"], timeout=30
            )
            stack.send("tidtam.notifications.sweep")
        assert sink.problems == []
        assert {p for p, _s in sink.requests} == {PUSH_PATH}
        person, group = sink.texts_to(LINE_USER), sink.texts_to(GROUP)
        assert len(person) == len(group) == 1  # two teachers told, one message in the group
        assert person[0].startswith("ติดตาม: ผลการดำเนินงานขั้นตอน")
        assert "ถูกส่งกลับให้แก้ไข เหตุผล: แนบหลักฐานไม่ครบ" in person[0]
        link = person[0].splitlines()[-1]
        assert link.startswith(stack.app.config["PUBLIC_URL"]) and "/results/" in link
        assert group[0] == person[0]  # the group reads Thai as the school user does

        assert len(hooks.posts) == 1  # two teachers told, one POST to the unit's endpoint
        post = hooks.posts[0]
        expected = "sha256=" + hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
        assert post.headers[SIGNATURE_HEADER] == expected
        document = json.loads(post.body)
        assert post.headers[DELIVERY_HEADER] == document["delivery"]
        assert document["delivery"].endswith(":webhook:1")
        assert "ถูกส่งกลับให้แก้ไข" in document["text"]
        assert "returned for changes" in document["text_en"]
        assert document["unit_id"] == unit_id


def _pool_children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]


@pytest.mark.worker
def test_worker_killed_while_line_holds_the_push_delivers_once(tmp_path: Path, app: Flask) -> None:
    """LINE accepted the push, the worker is killed before its answer: the retry, after the
    lease, sends the same retry key, LINE answers 409 (accepted already) and the row is sent.
    The person reads it once."""
    with (
        line_sink() as sink,
        committed_stack(
            tmp_path, "linekill", MAIL_PORT="9", NOTIFICATION_SEND_LEASE_SECONDS="3", **sink.env()
        ) as stack,
    ):
        with stack.app.app_context():
            school = db.session.scalars(
                select(User).where(User.email == "school@demo.tidtam.local")
            ).one()
            _link(db.session(), school, LINE_USER)
            set_preference(db.session(), school, "*", Channel.EMAIL, DeliveryMode.OFF)
            db.session.commit()
        sink.hold_next()
        log = tmp_path / "worker.log"
        with running_worker(
            stack.env, queues="notifications", pool="prefork", concurrency=1, log=log
        ) as worker:
            _commit_return(stack.app)
            assert sink.holding.wait(60), log.read_text()[-3000:]
            children = _pool_children(worker.pid)
            assert len(children) == 1
            os.kill(children[0], signal.SIGKILL)
            sink.release()
            states = eventually(
                lambda: (s := _line_states(stack.app)) and s[0][0] == "sent" and s, timeout=60
            )
            stack.send("tidtam.notifications.sweep")  # nothing is left to take over
        assert "WorkerLostError" in log.read_text() or "SIGKILL" in log.read_text()
    assert sink.problems == []
    assert len(sink.delivered) == 1  # delivered once
    statuses = [status for _p, status in sink.requests]
    assert statuses[-1] == 409 and statuses.count(409) >= 1  # the retry, recognised
    assert states == [("sent", 2)]


def test_line_digest_is_one_message_a_day_in_the_readers_language(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held LINE rows go out as one digest message per person and day (its key is unique per
    channel), pushed through the SDK in the person's language, each item with its link."""
    from service.notifications.dispatch import deliver_digests
    from service.notifications.operations import DeliverySettings, digest_recipients

    officer = user(session, "officer")
    officer.language = "en"
    _link(session, officer, LINE_USER)
    set_preference(session, officer, "*", Channel.LINE, DeliveryMode.DIGEST)
    for kind in ("step_result.submit", "step_result.submit"):
        _relay(session, kind)
    with line_sink() as sink, app.app_context():
        for name, value in sink.env().items():
            monkeypatch.setitem(app.config, name, value)
        users = digest_recipients(session, now=utcnow())
        assert officer.id in users
        carried = deliver_digests(session, users, settings=DeliverySettings())
        assert deliver_digests(session, users, settings=DeliverySettings()) == []
    assert sink.problems == []
    (text,) = sink.texts_to(LINE_USER)
    assert text.startswith("Daily digest of notifications (2)")
    assert text.count("• ") == 2 and "waits for your review" in text
    assert text.count("/review#result-") == 2
    assert len(carried) == 2
    key = session.scalar(
        select(Notification.delivery_key).where(
            Notification.kind == "digest", Notification.channel == Channel.LINE
        )
    )
    assert key is not None and key.endswith(f":user:{officer.id}:line")
