"""Being told without being flooded: every event of every workflow table tells someone or is
silent for a written reason, overdue alerts name the unit and come once a day in one digest,
links lead to the thing to act on, and the bell shows the unread count on every page."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.admin.operations import create_reminder_rule, set_rule_active
from service.audit.models import OutboxEvent
from service.core.db import db, utcnow
from service.deadlines.engine import run_rule
from service.evaluations.models import Evaluation
from service.fiscal.models import FiscalYear
from service.kpis.operations import create_kpi, report_result
from service.notifications.messages import describe, link_for, summary
from service.notifications.models import (
    Channel,
    DeliveryState,
    Notification,
    ReminderKind,
    ReminderRule,
)
from service.notifications.operations import relay_outbox
from service.notifications.recipients import NOTIFIED_KINDS, SILENT
from service.org.models import OrgUnit, Role, User
from service.workflow.engine import Refused, load_workflows
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.notify_data import _user, add_outsiders
from tests.smtp import mail_sink
from tests.stack import committed_stack, eventually
from tests.work_data import demo_project, school_result, unit, user
from tests.workers import running_worker

REQUEUE = timedelta(minutes=10)

#: Events emitted by operations outside the workflow tables.
OTHER_EVENTS = {
    "allocation.create",
    "installment.request",
    "installment.payment",
    "budget_transfer.create",
    "delegation.create",
    "delegation.withdraw",
    "line_account.link",
    "line_group.link",
    "comment.mention",
    "kpi.result",
    "allocation.undecidable",
    "installment.undecidable",
}

TRANSITIONS = sorted(
    f"{workflow.name}.{transition.name}"
    for workflow in load_workflows().values()
    for transition in workflow.transitions
)


@pytest.mark.parametrize("kind", TRANSITIONS)
def test_every_transition_tells_someone_or_says_why_not(kind: str) -> None:
    told = kind in NOTIFIED_KINDS
    silent = SILENT.get(kind, "").strip()
    assert told or silent, f"{kind}: no recipient rule and no reason for silence"
    assert not (told and silent), f"{kind}: both a recipient rule and a reason for silence"


def test_rules_and_reasons_name_real_events() -> None:
    known = set(TRANSITIONS) | OTHER_EVENTS
    assert known >= NOTIFIED_KINDS
    assert set(SILENT) <= known


@pytest.mark.parametrize("role", ["school", "officer", "approver", "evaluator", "admin"])
def test_the_bell_shows_the_unread_count_on_every_page(
    session: Session, client: FlaskClient, role: str
) -> None:
    person = user(session, role)
    for n in range(2):
        session.add(
            Notification(
                recipient_id=person.id,
                kind="step_result.submit",
                object_type="step_result",
                object_id=n,
                channel=Channel.IN_APP,
                payload={},
                delivery_key=f"test:{n}:user:{person.id}:in_app",
                state=DeliveryState.SENT,
            )
        )
    session.flush()
    email = f"{role}@demo.tidtam.local"
    login(client, email, DEMO_PASSWORDS[email])
    for path in ("/", "/notifications/settings", "/projects/" + str(demo_project(session).id)):
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        header = page[page.index("<header") : page.index("</header>")]
        # Outside the folding menu, so a phone shows it without opening the menu.
        bell = header[header.index("</details>") :]
        assert 'class="bell" href="/notifications"' in bell, path
        assert 'data-unread="2"' in bell and '<span class="count">2<' in bell, path
    client.post("/notifications/read", data={"csrf_token": csrf_token(client, "/notifications")})
    assert 'data-unread="0"' in client.get("/notifications").get_data(as_text=True)


def test_no_bell_for_a_visitor(client: FlaskClient) -> None:
    assert 'class="bell"' not in client.get("/login").get_data(as_text=True)


def test_a_duplicate_reminder_rule_is_refused(session: Session, client: FlaskClient) -> None:
    admin = user(session, "admin")
    create_reminder_rule(
        session,
        admin,
        kind=ReminderKind.STEP_OVERDUE,
        name="เลยกำหนด",
        offset_days=1,
        repeat_days=7,
        escalate_after_days=14,
    )
    with pytest.raises(Refused) as refused:
        create_reminder_rule(
            session,
            admin,
            kind=ReminderKind.STEP_OVERDUE,
            name="ซ้ำ",
            offset_days=1,
            repeat_days=1,
            escalate_after_days=None,
        )
    assert refused.value.status == 422 and "offset_days" in refused.value.fields
    # Another day, or another kind, is not a duplicate; an inactive copy may be switched on
    # only while the active one is off.
    other = create_reminder_rule(
        session,
        admin,
        kind=ReminderKind.STEP_OVERDUE,
        name="อีกวัน",
        offset_days=3,
        repeat_days=None,
        escalate_after_days=None,
    )
    set_rule_active(session, admin, other, False)
    other.offset_days = 1
    session.flush()
    with pytest.raises(Refused):
        set_rule_active(session, admin, other, True)
    # The database refuses it too, whatever door is used.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(ReminderRule(kind=ReminderKind.STEP_OVERDUE, name="x", offset_days=1))
        session.flush()
    # The admin page says so in Thai.
    login(client, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
    answer = client.post(
        "/admin/reminders",
        data={
            "csrf_token": csrf_token(client, "/admin/reminders"),
            "kind": "step_overdue",
            "name": "ซ้ำอีก",
            "offset_days": "1",
        },
    )
    assert answer.status_code == 422
    assert "จะทำให้ทุกการแจ้งเตือนถูกส่งซ้ำสองครั้ง" in answer.get_data(as_text=True)


def test_a_closed_fiscal_year_is_not_chased(session: Session) -> None:
    school_result(session)  # the demo's schools owe step 3, due 1 Dec 2022
    rule = ReminderRule(
        kind=ReminderKind.STEP_OVERDUE, name="t", offset_days=1, repeat_days=7, active=True
    )
    session.add(rule)
    session.flush()
    day = date(2023, 1, 20)
    run_rule(session, rule, today=day, now=utcnow(), requeue_after=REQUEUE)
    assert session.scalar(select(func.count(Notification.id)))
    session.execute(delete(Notification))
    year = session.get(FiscalYear, demo_project(session).fiscal_year_id)
    assert year is not None
    year.is_open = False
    session.flush()
    run_rule(session, rule, today=day, now=utcnow(), requeue_after=REQUEUE)
    assert session.scalar(select(func.count(Notification.id))) == 0


def test_overdue_alerts_name_the_unit_step_and_project_and_link_to_the_result(
    app: Flask, session: Session
) -> None:
    result = school_result(session)
    rule = ReminderRule(
        kind=ReminderKind.STEP_OVERDUE, name="t", offset_days=1, repeat_days=7, active=True
    )
    session.add(rule)
    session.flush()
    run_rule(session, rule, today=date(2023, 1, 20), now=utcnow(), requeue_after=REQUEUE)
    note = session.scalars(
        select(Notification).where(
            Notification.object_id == result.id, Notification.channel == Channel.EMAIL
        )
    ).first()
    assert note is not None and note.state is DeliveryState.DIGEST  # held for the digest
    with app.app_context():
        words = describe(session, note.object_type, note.object_id, note.payload, "th", note.kind)
        line = summary(note.kind, note.payload, words, "th")
    school = session.get(OrgUnit, result.unit_id)
    assert school is not None and school.name("th") in line
    assert result.step.name in line and result.step.project.code in line
    assert words["link"].endswith(f"/results/{result.id}")


def test_links_go_to_the_thing_to_act_on() -> None:
    assert link_for("step_result.submit", 7, 1) == "/review#result-7"
    assert link_for("installment.request", 3, 1) == "/approvals#installment-3"
    assert link_for("allocation.submit", 4, 1) == "/approvals#allocation-4"
    assert link_for("step_result.return", 7, 1) == "/results/7"
    assert link_for("project.lock", 1, 1) == "/projects/1"


@pytest.mark.worker
def test_one_digest_a_day_per_person_through_a_real_worker(tmp_path: Path) -> None:
    with (
        mail_sink() as sink,
        committed_stack(tmp_path, "digest", **sink.env()) as stack,
    ):
        # `flask db upgrade` (what `make migrate` runs) seeds the default rules, once.
        runner = stack.app.test_cli_runner()
        with stack.app.app_context():
            first = runner.invoke(args=["db", "upgrade"])
            assert first.exit_code == 0, first.output
            assert "7 default reminder rules added" in first.output
            again = runner.invoke(args=["db", "upgrade"])
            assert again.exit_code == 0 and "added" not in again.output
            kinds = sorted(db.session.scalars(select(ReminderRule.kind)))
            db.session.rollback()
            db.session.remove()
        assert kinds == sorted(ReminderKind)
        log = tmp_path / "worker.log"
        with running_worker(stack.env, queues="deadlines,notifications", log=log):
            stack.send("tidtam.deadlines.run", "2023-01-20")
            eventually(
                lambda: (
                    "tidtam.deadlines.run" in log.read_text() and "succeeded" in log.read_text()
                ),
                timeout=60,
            )

            def held() -> dict[int, int]:
                with stack.app.app_context():
                    rows = db.session.execute(
                        select(Notification.recipient_id, func.count(Notification.id))
                        .where(
                            Notification.channel == Channel.EMAIL,
                            Notification.state == DeliveryState.DIGEST,
                        )
                        .group_by(Notification.recipient_id)
                    ).all()
                    db.session.rollback()
                return {int(r): int(n) for r, n in rows}

            waiting = held()
            assert waiting and max(waiting.values()) > 1  # many alerts, held
            assert sink.mails == []  # no mail per school per step
            for _ in range(2):  # beat firing twice, or a rerun by hand
                stack.send("tidtam.notifications.digest", "2023-01-20")
            mails = sink.wait_for(len(waiting), timeout=60)
            eventually(lambda: log.read_text().count("tidtam.notifications.digest[") >= 4)
            time.sleep(2)
        assert len(sink.mails) == len(waiting)  # one each, not two
        keys = Counter(str(m.message["X-Tidtam-Delivery"]) for m in sink.mails)
        assert set(keys.values()) == {1}
        assert all(k.startswith("digest:2023-01-20:user:") for k in keys)
        officer = [m for m in mails if m.to == ["officer@demo.tidtam.local"]]
        assert len(officer) == 1
        assert "สรุปการแจ้งเตือนประจำวัน" in officer[0].subject
        body = officer[0].body
        assert "[แจ้งผู้บังคับบัญชา]" in body and "โรงเรียน" in body and "เลยกำหนด" in body
        assert "/results/" in body


@pytest.mark.worker
def test_health_knows_whether_a_worker_is_alive(tmp_path: Path) -> None:
    with committed_stack(tmp_path, "heartbeat") as stack:
        client = stack.app.test_client()
        assert client.get("/healthz/workers").get_json() == {"status": "degraded"}
        with running_worker(stack.env, queues="celery"):
            stack.send("tidtam.health")  # what beat sends every minute

            def status() -> str:
                answer = client.get("/healthz/workers").get_json()
                return str(answer["status"])

            assert eventually(lambda: status() == "ok", timeout=60)


def _told_of(session: Session, kind: str) -> set[str]:
    """Relay what waits and say who was told (in the app) of the newest event of `kind`."""
    event = session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id.desc())
    ).first()
    assert event is not None
    assert event in relay_outbox(session, now=utcnow(), requeue_after=REQUEUE).event_ids
    return set(
        session.scalars(
            select(User.email)
            .join(Notification, Notification.recipient_id == User.id)
            .where(
                Notification.delivery_key.startswith(f"event:{event}:"),
                Notification.channel == Channel.IN_APP,
            )
        )
    )


def test_a_kpi_result_tells_its_evaluators_and_for_a_school_its_officers(
    app: Flask, session: Session
) -> None:
    add_outsiders(session)  # officers, approvers and schools elsewhere: never told
    second = _user(session, "evaluator-2@test.local", Role.EVALUATOR, unit(session, "10000000"))
    officer, school = user(session, "officer"), user(session, "school")
    school_unit = unit(session, "5023077101")
    year = demo_project(session).fiscal_year
    kpi = create_kpi(
        session,
        officer,
        code="5023-9901",
        name="ร้อยละของนักเรียนที่อ่านออกเขียนได้",
        fiscal_year=year,
        owner_unit=school_unit,
        target=Decimal("90"),
    )
    # A school reports: the evaluators (none is assigned yet) and the school's officers.
    report_result(session, school, kpi, 1, value=Decimal("72.5"), narrative="ภาคเรียนที่ 1")
    assert _told_of(session, "kpi.result") == {
        "evaluator@demo.tidtam.local",
        "evaluator-2@test.local",
        "officer@demo.tidtam.local",
    }
    # The quarter's evaluator is assigned: only they hear of it; an officer reporting is not
    # told of their own act, and no school is told.
    session.add(
        Evaluation(
            subject_type="kpi",
            kpi_id=kpi.id,
            fiscal_year_id=year.id,
            quarter=2,
            evaluator_id=second.id,
        )
    )
    session.flush()
    report_result(session, officer, kpi, 2, value=Decimal("80"))
    assert _told_of(session, "kpi.result") == {"evaluator-2@test.local"}
    # An unchanged report is no news.
    report_result(session, officer, kpi, 2, value=Decimal("80"))
    assert relay_outbox(session, now=utcnow(), requeue_after=REQUEUE).event_ids == []
    # The line names the school, the KPI and the quarter, and links to the KPI's page.
    note = session.scalars(
        select(Notification).where(
            Notification.kind == "kpi.result",
            Notification.recipient_id == officer.id,
            Notification.channel == Channel.IN_APP,
        )
    ).one()
    with app.app_context():
        words = describe(session, note.object_type, note.object_id, note.payload, "th", note.kind)
        line = summary(note.kind, note.payload, words, "th")
    assert school_unit.name("th") in line and "ตัวชี้วัด 5023-9901" in line
    assert "ไตรมาสที่ 1" in line and "72.5 ร้อยละ" in line
    assert words["link"].endswith(f"/kpis/{kpi.id}")
    assert link_for("kpi.result", kpi.id, None) == f"/kpis/{kpi.id}"
