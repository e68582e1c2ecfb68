"""Notifications: who is told (the org tree and roles, never everyone with the role), on which
channels, honouring preferences; delivery exactly once through a real SMTP server and a real
webhook receiver; failures shown to admins with a retry; the notification centre; and a
worker killed with `kill -9` in the middle of sending."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.audit.models import OutboxEvent
from service.audit.operations import emit
from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
from service.core.db import db, utcnow
from service.evaluations.models import Evaluation
from service.notifications.dispatch import DispatchOutcome, deliver, deliver_digests
from service.notifications.models import (
    Channel,
    DeliveryMode,
    DeliveryState,
    Notification,
    WebhookEndpoint,
)
from service.notifications.operations import (
    DeliverySettings,
    digest_recipients,
    relay_outbox,
    set_preference,
)
from service.notifications.recipients import DECIDING
from service.notifications.webhook import SIGNATURE_HEADER
from service.org.models import Delegation, OrgUnit, RoleAssignment, User
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.http_sink import http_sink
from tests.notify_data import add_outsiders
from tests.smtp import mail_sink
from tests.stack import committed_stack, eventually
from tests.work_data import demo_project, school_result, unit, user
from tests.workers import running_worker

REQUEUE = timedelta(minutes=10)
SCHOOL, OFFICER, APPROVER, EVALUATOR = (
    f"{r}@demo.tidtam.local" for r in ("school", "officer", "approver", "evaluator")
)


def _object_of(session: Session, object_type: str) -> int:
    if object_type == "step_result":
        return school_result(session).id
    if object_type == "allocation":
        return session.scalars(select(Allocation.id).order_by(Allocation.id)).first() or 0
    if object_type == "evaluation":
        return session.scalars(select(Evaluation.id)).first() or 0
    if object_type == "installment":
        return session.scalars(select(Installment.id).order_by(Installment.id)).first() or 0
    if object_type == "project":
        return demo_project(session).id
    delegation = Delegation(
        principal_id=user(session, "approver").id,
        delegate_id=user(session, "officer").id,
        starts_on=date(2023, 1, 1),
        ends_on=date(2023, 1, 31),
        reason="ลาพักร้อน",
    )
    session.add(delegation)
    session.flush()
    return delegation.id


def _undecided(session: Session, object_type: str) -> int:
    """A fresh allocation waiting for a decision, or a fresh installment request on the
    demo's first allocation, that nobody has prepared or endorsed in the audit: four eyes
    bars nobody from deciding it. (The demo's own first allocation was prepared by the
    officer and approved by the approver: neither is asked to decide it again, see
    tests/test_deputy_in_her_name.py.)"""
    allocation = session.scalars(select(Allocation).order_by(Allocation.id)).first()
    assert allocation is not None
    if object_type == "allocation":
        fresh = Allocation(
            project_id=allocation.project_id,
            recipient_unit_id=allocation.recipient_unit_id,
            amount=allocation.amount,
            state=AllocationState.SUBMITTED,
        )
        session.add(fresh)
        session.flush()
        return fresh.id
    request = Installment(
        allocation=allocation, amount=Decimal("1.00"), state=InstallmentState.REQUESTED
    )
    session.add(request)
    session.flush()
    return request.id


def _relay_one(
    session: Session,
    kind: str,
    payload: dict[str, object] | None = None,
    object_id: int | None = None,
) -> int:
    """Emit one event of `kind` about the demo's object (or `object_id`) and relay it in this
    session."""
    object_type = kind.split(".")[0]
    event = emit(
        session,
        kind=kind,
        object_type=object_type,
        object_id=object_id if object_id is not None else _object_of(session, object_type),
        payload=payload or {},
    )
    session.flush()
    batch = relay_outbox(session, now=utcnow(), requeue_after=REQUEUE)
    assert batch.event_ids == [event.id]
    return event.id


def _told(session: Session, event_id: int) -> dict[str, set[str]]:
    rows = session.execute(
        select(User.email, Notification.channel)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.delivery_key.startswith(f"event:{event_id}:"))
    ).all()
    told: dict[str, set[str]] = {}
    for email, channel in rows:
        told.setdefault(email, set()).add(channel.value)
    return told


# (event kind, payload, who is told): the recipient rules, one row each.
WHO_IS_TOLD = [
    ("step_result.return", {}, {SCHOOL}),
    ("step_result.submit", {}, {OFFICER}),
    ("allocation.submit", {"above_limit": True}, {APPROVER}),
    ("allocation.endorse", {"above_limit": True}, {APPROVER}),
    ("allocation.submit", {"above_limit": False}, {OFFICER}),
    ("evaluation.publish", {}, {OFFICER}),
    ("delegation.create", {}, {OFFICER, APPROVER}),
    ("delegation.withdraw", {}, {OFFICER, APPROVER}),
    ("allocation.create", {}, set()),  # silent on purpose: a draft
    ("step_result.accept", {}, {SCHOOL}),
    ("installment.request", {"above_limit": True}, {APPROVER}),
    ("installment.request", {"above_limit": False}, {OFFICER}),
    ("installment.approve", {}, {OFFICER}),  # whoever asked for it
    ("installment.pay", {}, {OFFICER}),
    ("installment.reject", {}, {OFFICER}),
    ("allocation.approve", {}, {OFFICER}),  # its preparer
    ("allocation.return", {}, {OFFICER}),
    ("project.submit", {}, {APPROVER}),
    ("project.request_revision", {}, {APPROVER}),
    ("project.lock", {}, {OFFICER}),
    ("project.return", {}, {OFFICER}),
    ("project.reopen", {}, {OFFICER}),
    ("project.decline_revision", {}, {OFFICER}),
    ("evaluation.reopen", {}, {OFFICER}),
    ("evaluation.self_assess", {}, {EVALUATOR}),
]


@pytest.mark.parametrize(("kind", "payload", "expected"), WHO_IS_TOLD)
def test_who_is_told_follows_the_org_tree(
    session: Session, kind: str, payload: dict[str, object], expected: set[str]
) -> None:
    add_outsiders(session)  # role-holders of other units and districts, never told
    object_type = kind.split(".")[0]
    fresh = _undecided(session, object_type) if kind in DECIDING else None
    event_id = _relay_one(session, kind, payload, fresh)
    told = _told(session, event_id)
    assert set(told) == expected
    for channels in told.values():
        assert channels == {"in_app", "email"}


def test_a_withdrawn_role_or_inactive_user_is_not_told(session: Session) -> None:
    school = user(session, "school")
    session.execute(
        update(RoleAssignment)
        .where(RoleAssignment.user_id == school.id)
        .values(withdrawn_at=utcnow())
    )
    assert _told(session, _relay_one(session, "step_result.return")) == {}
    officer = user(session, "officer")
    officer.active = False
    session.flush()
    assert _told(session, _relay_one(session, "step_result.submit")) == {}


def test_preferences_digest_off_and_every_kind(session: Session) -> None:
    officer = user(session, "officer")
    set_preference(session, officer, "step_result.submit", Channel.EMAIL, DeliveryMode.DIGEST)
    set_preference(session, officer, "step_result.submit", Channel.IN_APP, DeliveryMode.OFF)
    event_id = _relay_one(session, "step_result.submit")
    rows = session.scalars(
        select(Notification).where(Notification.delivery_key.startswith(f"event:{event_id}:"))
    ).all()
    assert [(n.channel, n.state) for n in rows] == [(Channel.EMAIL, DeliveryState.DIGEST)]

    # "*" switches a channel off for every kind; a kind's own row still wins over it.
    set_preference(session, officer, "*", Channel.EMAIL, DeliveryMode.OFF)
    other = _relay_one(session, "evaluation.publish")
    assert _told(session, other) == {OFFICER: {"in_app"}}
    # The kind's own rows win over "*": email to the digest, nothing in the app.
    assert _told(session, _relay_one(session, "step_result.submit")) == {OFFICER: {"email"}}
    held = session.scalar(
        select(func.count(Notification.id)).where(Notification.state == DeliveryState.DIGEST)
    )
    assert held == 2  # one per step_result.submit event


def test_relaying_again_inserts_nothing(session: Session) -> None:
    event_id = _relay_one(session, "step_result.submit")
    before = session.scalar(select(func.count(Notification.id)))
    # As if the stamp were lost after the notifications were written: the keys hold.
    session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(relayed_at=None))
    batch = relay_outbox(session, now=utcnow(), requeue_after=REQUEUE)
    assert batch.event_ids == [event_id]
    assert batch.dispatch_ids == []
    assert session.scalar(select(func.count(Notification.id))) == before
    assert relay_outbox(session, now=utcnow(), requeue_after=REQUEUE).event_ids == []


def test_webhook_rows_follow_the_endpoint_kinds(session: Session) -> None:
    division = unit(session, "50230700")
    session.add(
        WebhookEndpoint(
            unit_id=division.id,
            url="http://127.0.0.1:9/x",
            secret="s",
            kinds=["step_result.submit"],
        )
    )
    session.flush()
    submitted = _told(session, _relay_one(session, "step_result.submit"))
    assert submitted == {OFFICER: {"in_app", "email", "webhook"}}
    published = _told(session, _relay_one(session, "evaluation.publish"))
    assert published == {OFFICER: {"in_app", "email"}}


def test_delivery_once_failure_admin_retry(
    app: Flask, session: Session, client: FlaskClient, login_as, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Sent once with a stable Message-ID; a second dispatch sends nothing; an unreachable
    server makes it pending, then failed at the last attempt; an admin's retry sends it."""
    settings = DeliverySettings(max_attempts=2)

    def send(ids: list[int]) -> DispatchOutcome:
        with app.app_context():  # as a worker task runs (requests push their own)
            return deliver(session, ids, settings=settings, held_until=utcnow() + REQUEUE)

    with mail_sink() as sink:
        monkeypatch.setitem(app.config, "MAIL_PORT", sink.port)
        monkeypatch.setitem(app.config, "MAIL_SERVER", sink.host)
        _relay_one(session, "step_result.return")
        _relay_one(session, "step_result.submit")
        ids = list(
            session.scalars(
                select(Notification.id)
                .where(Notification.state == DeliveryState.PENDING)
                .order_by(Notification.id)
            )
        )
        assert len(ids) == 2
        first = send(ids[:1])
        assert first.sent == ids[:1]
        again = send(ids[:1])
        assert again.sent == [] and again.skipped == ids[:1]
        mails = sink.wait_for(1)
        assert mails[0].to == [SCHOOL]
        assert "ถูกส่งกลับให้แก้ไข" in mails[0].subject  # the school user reads Thai
        assert mails[0].message["Content-Language"] == "th"

        monkeypatch.setitem(app.config, "MAIL_PORT", 9)  # nothing listens on discard
        retry = send(ids[1:])
        assert retry.retry == ids[1:]
        failed = send(ids[1:])
        assert failed.failed == ids[1:]
        row = session.get(Notification, ids[1])
        session.refresh(row)
        assert row is not None and row.state is DeliveryState.FAILED and row.attempts == 2
        assert "SMTP" in row.last_error

        admin = login_as("admin")
        page = admin.get("/admin/notifications/failed").get_data(as_text=True)
        assert f'data-id="{ids[1]}"' in page and f"/admin/notifications/{ids[1]}/retry" in page
        token = csrf_token(admin, "/admin/notifications/failed")
        assert admin.post(f"/admin/notifications/{ids[1]}/retry").status_code == 400  # no CSRF
        answer = admin.post(f"/admin/notifications/{ids[1]}/retry", data={"csrf_token": token})
        assert answer.status_code == 302
        session.refresh(row)
        assert row.state is DeliveryState.PENDING and row.attempts == 0

        monkeypatch.setitem(app.config, "MAIL_PORT", sink.port)
        assert send(ids[1:]).sent == ids[1:]
        mails = sink.wait_for(2)
        assert [m.to for m in mails] == [[SCHOOL], [OFFICER]]
        assert len(sink.message_ids()) == 2


def test_notification_centre_unread_and_mark_read(app: Flask, session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    _relay_one(session, "step_result.submit")
    _relay_one(session, "evaluation.publish")
    client = login_as("officer")
    assert client.get("/notifications/unread.json").get_json() == {"unread": 2}
    page = client.get("/notifications?lang=en").get_data(as_text=True)
    assert 'data-unread="2"' in page and "waits for your review" in page
    ident = session.scalars(
        select(Notification.id).where(Notification.channel == Channel.IN_APP)
    ).first()
    token = csrf_token(client, "/notifications")
    # Followed from the centre, a notification is read on the way to what it points at.
    assert f'action="/notifications/{ident}/open"' in page
    opened = client.post(f"/notifications/{ident}/open", data={"csrf_token": token})
    # to its path on this server (the link itself is absolute on PUBLIC_URL)
    assert opened.status_code == 302 and opened.location.startswith("/")
    assert opened.location != "/notifications"
    assert client.get("/notifications/unread.json").get_json() == {"unread": 1}
    page = client.get("/notifications?lang=en").get_data(as_text=True)
    assert f'action="/notifications/{ident}/open"' not in page  # a plain link now
    client.post("/notifications/read", data={"csrf_token": token})
    assert client.get("/notifications/unread.json").get_json() == {"unread": 0}
    # Another user's notifications are not theirs to read.
    school = app.test_client()
    login(school, SCHOOL, DEMO_PASSWORDS[SCHOOL])
    assert school.get("/notifications/unread.json").get_json() == {"unread": 0}
    school_token = csrf_token(school, "/notifications")
    assert (
        school.post(f"/notifications/{ident}/open", data={"csrf_token": school_token}).status_code
        == 404
    )


def test_settings_page_saves_preferences(session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    page = client.get("/notifications/settings").get_data(as_text=True)
    # no LINE choices while LINE cannot reach the officer (not linked, here not set up)
    assert 'name="step_result.submit:email"' in page and ":line" not in page
    token = csrf_token(client, "/notifications/settings")
    client.post(
        "/notifications/settings",
        data={"csrf_token": token, "step_result.submit:email": "digest"},
    )
    assert _told(session, _relay_one(session, "step_result.submit")) == {
        OFFICER: {"in_app", "email"}
    }
    state = session.scalars(
        select(Notification.state).where(Notification.channel == Channel.EMAIL)
    ).one()
    assert state is DeliveryState.DIGEST


def test_digest_sends_one_mail_per_person(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = user(session, "officer")
    officer.language = "en"
    set_preference(session, officer, "*", Channel.EMAIL, DeliveryMode.DIGEST)
    set_preference(session, officer, "*", Channel.IN_APP, DeliveryMode.DIGEST)
    for kind in ("step_result.submit", "evaluation.publish", "delegation.create"):
        _relay_one(session, kind)
    with mail_sink() as sink, app.app_context():
        monkeypatch.setitem(app.config, "MAIL_PORT", sink.port)
        monkeypatch.setitem(app.config, "MAIL_SERVER", sink.host)
        users = digest_recipients(session, now=utcnow())
        assert officer.id in users
        sent = deliver_digests(session, users, settings=DeliverySettings())
        assert deliver_digests(session, users, settings=DeliverySettings()) == []
        mails = sink.wait_for(1)
    to_officer = [m for m in mails if m.to == [OFFICER]]
    assert len(mails) == len(to_officer) == 1
    assert "digest of 3 notifications" in to_officer[0].subject
    assert to_officer[0].body.count("\n- ") == 3
    assert len(sent) == 3  # the approver, with no preference, was mailed at once instead
    in_app = session.scalars(
        select(Notification.state).where(
            Notification.recipient_id == officer.id, Notification.channel == Channel.IN_APP
        )
    ).all()
    assert set(in_app) == {DeliveryState.SENT}  # released into the centre at digest time


def test_workers_health_endpoint_and_command(app: Flask, client: FlaskClient) -> None:
    login(client, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
    answer = client.get("/healthz/workers")
    assert answer.status_code == 200
    status = answer.get_json()
    assert status["broker"]["reachable"] is True
    assert set(status["broker"]["queues"]) == {"notifications", "deadlines", "rollups", "celery"}
    assert "backlog" in status["outbox"]
    result = app.test_cli_runner().invoke(args=["workers-status"])
    assert result.exit_code == 0, result.output
    assert "broker      reachable" in result.output
    assert "outbox" in result.output


# -- real workers ---------------------------------------------------------------------------


def _pool_children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]


def _commit_event(stack_app: Flask, kind: str) -> None:
    with stack_app.app_context():
        emit(
            db.session,
            kind=kind,
            object_type="step_result",
            object_id=school_result(db.session).id,
            payload={"to": "returned"},
        )
        db.session.commit()


def _states(stack_app: Flask) -> list[tuple[str, str, int]]:
    with stack_app.app_context():
        rows = db.session.execute(
            select(Notification.channel, Notification.state, Notification.attempts).order_by(
                Notification.id
            )
        ).all()
        db.session.rollback()
    return [(c.value, s.value, a) for c, s, a in rows]


@pytest.mark.worker
def test_kill_9_while_sending_sends_exactly_one_mail(tmp_path: Path, app: Flask) -> None:
    """The pool process is killed while the SMTP server holds its DATA: the server never
    answered 250, so nothing was delivered; the task comes back (acks late, reject on worker
    lost), waits out the dead worker's lease and sends the mail once."""
    with (
        mail_sink() as sink,
        committed_stack(
            tmp_path, "kill9", NOTIFICATION_SEND_LEASE_SECONDS="3", **sink.env()
        ) as stack,
    ):
        sink.hold_next()
        log = tmp_path / "worker.log"
        with running_worker(
            stack.env, queues="notifications", pool="prefork", concurrency=1, log=log
        ) as worker:
            _commit_event(stack.app, "step_result.return")
            assert sink.holding.wait(60), log.read_text()[-3000:]
            children = _pool_children(worker.pid)
            assert len(children) == 1
            os.kill(children[0], signal.SIGKILL)
            assert sink.dropped.wait(10)
            sink.wait_for(1, timeout=60)
            states = eventually(
                lambda: (
                    (s := _states(stack.app)) and all(state == "sent" for _c, state, _a in s) and s
                )
            )
            stack.send("tidtam.notifications.sweep")  # nothing is left to take over
        text = log.read_text()
        assert "WorkerLostError" in text or "SIGKILL" in text, text[-3000:]
    # Exactly one mail, and it is the second attempt: the first died mid-DATA.
    assert [m.to for m in sink.mails] == [[SCHOOL]]
    assert list(sink.message_ids().values()) == [1]
    assert ("email", "sent", 2) in states


@pytest.mark.worker
def test_webhook_posts_signed_json_once(tmp_path: Path, app: Flask) -> None:
    with (
        mail_sink() as sink,
        http_sink() as hooks,
        committed_stack(
            tmp_path, "webhook", WEBHOOK_ALLOW_PRIVATE_ADDRESSES="1", **sink.env()
        ) as stack,
    ):
        secret = "per-endpoint-secret"
        with stack.app.app_context():
            school_unit = db.session.scalars(
                select(OrgUnit).where(OrgUnit.code == "5023077101")
            ).one()
            db.session.add(WebhookEndpoint(unit_id=school_unit.id, url=hooks.url, secret=secret))
            db.session.commit()
        with running_worker(stack.env, queues="notifications", log=tmp_path / "worker.log"):
            _commit_event(stack.app, "step_result.return")
            sink.wait_for(1)
            eventually(lambda: len(hooks.posts) == 1)
            stack.send("tidtam.outbox.relay")  # a later relay (as beat) sends nothing more
            stack.send("tidtam.notifications.sweep")
            eventually(lambda: all(s == "sent" for _c, s, _a in _states(stack.app)))
        post = hooks.posts[0]
        expected = "sha256=" + hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
        assert post.headers[SIGNATURE_HEADER] == expected
        document = json.loads(post.body)
        assert document["kind"] == "step_result.return"
        assert document["recipient"]["name"] == "ครูสมศรี ใจดี"
        assert "ถูกส่งกลับให้แก้ไข" in document["text"]
        assert post.headers["X-Tidtam-Delivery"] == document["delivery"]
        assert len(hooks.posts) == 1 and len(sink.mails) == 1


def test_a_school_is_offered_what_a_school_hears(session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    """A school's clerk on a phone is offered the kinds a school is told of, not the
    district's forty; a kind she has been told of all the same (a head of unit, say) is
    offered too, so that whatever she hears she can turn down."""
    client = login_as("school")
    page = client.get("/notifications/settings").get_data(as_text=True)
    for kind in ("step_result.return", "step_result.accept", "deadline.step_overdue"):
        assert f'name="{kind}:email"' in page, kind
    for kind in ("budget_transfer.create", "project.submit", "step_result.submit"):
        assert f'name="{kind}:email"' not in page, kind
    school = session.scalars(select(User).where(User.email == "school@demo.tidtam.local")).one()
    session.add(
        Notification(
            recipient_id=school.id,
            kind="project.lock",
            object_type="project",
            object_id=_object_of(session, "project"),
            channel=Channel.IN_APP,
            delivery_key=f"test:project.lock:user:{school.id}:in_app",
            state=DeliveryState.SENT,
        )
    )
    session.commit()
    assert 'name="project.lock:email"' in client.get("/notifications/settings").get_data(
        as_text=True
    )
    # The officer is offered every kind.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/notifications/settings")})
    officer = login_as("officer")
    assert 'name="budget_transfer.create:email"' in officer.get("/notifications/settings").get_data(
        as_text=True
    )
