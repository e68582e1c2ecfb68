"""The deadline engine: reminder rules as data, fired on the right Bangkok day, once per
(object, rule, occurrence, recipient) even when runs overlap, one catch-up alert per object
after an outage, escalation to the head of the unit, and every kind of waiting object."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.budget.models import Allocation, Installment, InstallmentState
from service.core.db import db, utcnow
from service.deadlines.engine import Context, report_month, rule_candidates, run_rule
from service.deadlines.rules import DEFAULT_RULES, ensure_default_rules
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.notifications.models import (
    Channel,
    DeliveryMode,
    Notification,
    ReminderKind,
    ReminderRule,
    WebhookEndpoint,
)
from service.notifications.operations import (
    claim_delivery,
    insert_notifications,
    set_preference,
)
from service.org.models import Role, User
from service.projects.models import ProgressReport, ResultState, StepResult
from tests.project_data import make_user
from tests.smtp import mail_sink
from tests.sql_count import counting
from tests.stack import committed_stack, eventually
from tests.work_data import demo_project, school_result, unit, user
from tests.workers import running_worker

REQUEUE = timedelta(minutes=10)
SCHOOL, OFFICER, APPROVER, EVALUATOR = (
    f"{r}@demo.tidtam.local" for r in ("school", "officer", "approver", "evaluator")
)


def _rule(
    session: Session,
    kind: ReminderKind,
    offset: int,
    repeat: int | None = None,
    escalate: int | None = None,
) -> ReminderRule:
    rule = ReminderRule(
        kind=kind,
        name=f"test {kind.value}",
        offset_days=offset,
        repeat_days=repeat,
        escalate_after_days=escalate,
        active=True,
    )
    session.add(rule)
    session.flush()
    return rule


def _fire(session: Session, rule: ReminderRule, day: date) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    """Run `rule` on `day`; return the new email alerts as (recipient, object key, payload)."""
    before = session.scalar(select(func.max(Notification.id))) or 0
    run_rule(session, rule, today=day, now=utcnow(), requeue_after=REQUEUE)
    rows = session.execute(
        select(User.email, Notification.object_type, Notification.object_id, Notification.payload)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.id > before, Notification.channel == Channel.EMAIL)
        .order_by(Notification.id)
    ).all()
    return [(email, f"{kind}:{ident}", payload) for email, kind, ident, payload in rows]


def _only_school_result(session: Session) -> StepResult:
    """Leave the demo school's step-3 result as the only open result of the project."""
    keep = school_result(session)
    for result in session.scalars(select(StepResult).where(StepResult.id != keep.id)):
        result.state = ResultState.ACCEPTED
        result.completion = result.accepted_completion = result.completion or 100  # type: ignore[assignment]
        result.submitted_at = result.reviewed_at = datetime(2022, 9, 1, tzinfo=UTC)
    session.flush()
    return keep


def test_before_due_fires_once_in_its_window(session: Session) -> None:
    result = _only_school_result(session)  # step 3, due 2022-12-01 (Bangkok)
    rule = _rule(session, ReminderKind.STEP_DUE, offset=-3)
    assert _fire(session, rule, date(2022, 11, 27)) == []
    fired = _fire(session, rule, date(2022, 11, 28))
    assert [(email, key) for email, key, _ in fired] == [(SCHOOL, f"step_result:{result.id}")]
    assert fired[0][2]["days"] == -3 and fired[0][2]["due"] == "2022-12-01"
    assert _fire(session, rule, date(2022, 11, 30)) == []  # once, not daily
    # A run that starts after the due day has passed sends no stale "due soon".
    session.execute(delete(Notification))
    assert _fire(session, rule, date(2022, 12, 2)) == []


def test_the_rule_name_is_read_from_the_rule_when_sent(session: Session) -> None:
    # Not stored in each of a run's rows: the delivery (a webhook's document) has it.
    _only_school_result(session)
    rule = _rule(session, ReminderKind.STEP_DUE, offset=-3)
    assert _fire(session, rule, date(2022, 11, 28))
    mail = session.scalars(
        select(Notification).where(
            Notification.kind == "deadline.step_due", Notification.channel == Channel.EMAIL
        )
    ).one()
    assert "rule" not in mail.payload and mail.payload["rule_id"] == rule.id
    claimed = claim_delivery(session, mail.id, now=utcnow(), lease=REQUEUE)
    assert claimed.delivery is not None
    assert claimed.delivery.payload["rule"] == "test step_due"


def test_overdue_repeats_then_escalates_to_the_head(session: Session) -> None:
    result = _only_school_result(session)
    rule = _rule(session, ReminderKind.STEP_OVERDUE, offset=1, repeat=7, escalate=14)
    fired = {day: _fire(session, rule, date(2022, 12, day)) for day in range(1, 17)}
    days = [day for day, alerts in fired.items() if alerts]
    # due+1, then every 7 days; the head of the unit (the division's head officer) from
    # due+14 on, with the occurrence running then and every one after it.
    assert days == [2, 9, 15, 16]
    assert [(e, p["occurrence"]) for e, _k, p in fired[2]] == [(SCHOOL, 0)]
    assert [(e, p["occurrence"]) for e, _k, p in fired[9]] == [(SCHOOL, 1)]
    assert [(e, p["occurrence"]) for e, _k, p in fired[15]] == [(OFFICER, 1)]
    assert fired[15][0][2]["escalated"] in (True, 1)
    assert [(e, p["occurrence"]) for e, _k, p in fired[16]] == [(SCHOOL, 2), (OFFICER, 2)]
    assert {key for alerts in fired.values() for _e, key, _p in alerts} == {
        f"step_result:{result.id}"
    }


def test_a_head_among_the_people_told_gets_one_alert_marked_escalated(
    session: Session,
) -> None:
    # The division's head officer is among the officers a missing report tells, and the
    # head the rule escalates to: one alert per channel, saying it is escalated.
    demo_project(session)
    rule = _rule(session, ReminderKind.REPORT_MISSING, offset=5, repeat=7, escalate=0)
    fired = _fire(session, rule, date(2023, 2, 20))
    assert {email for email, _k, _p in fired} == {OFFICER}
    assert all(n == 1 for n in Counter((e, k) for e, k, _p in fired).values())
    assert all(p["escalated"] in (True, 1) for _e, _k, p in fired)
    sent = session.scalars(
        select(Notification.delivery_key).where(Notification.kind == "deadline.report_missing")
    ).all()
    assert len(sent) == len(set(sent)) == 2 * len(fired)  # in-app and mail, once each


def test_each_rule_is_a_few_statements_and_a_rerun_inserts_nothing(
    app: Flask, session: Session
) -> None:
    # However many objects wait: a lock, the staged candidates, one insert and the drop on
    # PostgreSQL (one insert on SQLite); and the next hourly run adds no row.
    session.execute(delete(ReminderRule))
    rules = ensure_default_rules(session)
    years = dict(session.execute(select(FiscalYear.id, FiscalYear.be_year)).all())
    day = date(2023, 1, 20)

    def run_all() -> list[int]:
        counts = []
        for rule in rules:
            with counting(app.extensions["tidtam.db"]) as statements:
                run_rule(session, rule, today=day, now=utcnow(), requeue_after=REQUEUE, years=years)
            counts.append(len(statements))
        return counts

    assert max(run_all()) <= 4
    first = session.scalar(select(func.count(Notification.id)))
    assert first and len({r.kind for r in rules}) == len(ReminderKind)
    assert max(run_all()) <= 4
    assert session.scalar(select(func.count(Notification.id))) == first


def _rows(session: Session, since: int) -> set[tuple[object, ...]]:
    """Every notification after id `since`, as all that a person or a delivery sees of it."""
    return {
        (
            n.delivery_key,
            n.recipient_id,
            n.kind,
            n.object_type,
            n.object_id,
            n.channel,
            n.state,
            tuple(sorted(n.payload.items())),
            n.sent_at is None,
            n.lease_until is None,
            n.endpoint_id,
            n.line_group_id,
        )
        for n in session.scalars(select(Notification).where(Notification.id > since))
    }


def _waiting_installment(session: Session, requested: datetime) -> None:
    """An installment of the first allocation, requested at `requested`."""
    allocation = session.scalars(select(Allocation).order_by(Allocation.id)).first()
    assert allocation is not None
    session.add(
        Installment(
            allocation=allocation,
            amount=1000,
            state=InstallmentState.REQUESTED,
            requested_at=requested,
        )
    )


def _quarter_one(session: Session, project: Any, state: EvaluationState) -> None:
    """The project's first-quarter evaluation, in `state`."""
    session.add(
        Evaluation(
            subject_type="project",
            project_id=project.id,
            fiscal_year_id=project.fiscal_year_id,
            quarter=1,
            state=state,
        )
    )


def test_a_run_writes_the_rows_of_the_plain_insert(session: Session) -> None:
    # The run's path (on PostgreSQL: the rule's lock, the staged candidates, one INSERT of
    # the keys not there yet) writes exactly the rows of the plain INSERT … ON CONFLICT DO
    # NOTHING of the rule's candidates, every channel included; a rerun adds none.
    session.execute(delete(ReminderRule))
    rules = ensure_default_rules(session)
    years = dict(session.execute(select(FiscalYear.id, FiscalYear.be_year)).all())
    # Something waits for every rule on the day: open steps, January's report, and these.
    project = demo_project(session)
    result = school_result(session)
    result.state = ResultState.SUBMITTED
    result.submitted_at = datetime(2023, 2, 10, 3, 0, tzinfo=UTC)
    _waiting_installment(session, datetime(2023, 2, 10, 3, 0, tzinfo=UTC))
    _quarter_one(session, project, EvaluationState.OPEN)
    # Every channel and a preference: the division's webhook, an officer's mail switched off.
    officer = session.scalars(select(User).where(User.email == OFFICER)).one()
    division = unit(session, "50230700")
    session.add(WebhookEndpoint(unit_id=division.id, url="http://127.0.0.1:9/x", secret="s"))
    set_preference(session, officer, "deadline.report_missing", Channel.EMAIL, DeliveryMode.OFF)
    session.flush()
    since = session.scalar(select(func.max(Notification.id))) or 0
    day, now = date(2023, 2, 20), utcnow()
    dialect = session.get_bind().dialect.name

    with session.begin_nested() as plain:
        for rule in rules:
            ctx = Context(dialect=dialect, today=day, rule=rule, years=years)
            insert_notifications(session, rule_candidates(ctx), now=now, requeue_after=REQUEUE)
        expected = _rows(session, since)
        plain.rollback()
    assert {row[2] for row in expected} == {f"deadline.{k.value}" for k in ReminderKind} - {
        "deadline.step_due"
    }
    assert {row[5] for row in expected} == {"in_app", "email", "webhook"}
    report_mail = {(r[1], r[5]) for r in expected if r[2] == "deadline.report_missing"}
    assert (officer.id, "in_app") in report_mail and (officer.id, "email") not in report_mail

    for rule in rules:
        run_rule(session, rule, today=day, now=now, requeue_after=REQUEUE, years=years)
    assert _rows(session, since) == expected
    for rule in rules:
        assert run_rule(session, rule, today=day, now=now, requeue_after=REQUEUE) == []
    assert _rows(session, since) == expected


def test_notifications_are_inserted_without_a_check_per_row(session: Session) -> None:
    # A foreign key is checked once per inserted row (on PostgreSQL an after-row trigger),
    # a third of a deadline run's first pass at 100,000 projects: the table has none, its
    # writers take recipients, endpoints and groups from the tables they would refer to.
    bind = session.connection()
    assert inspect(bind).get_foreign_keys("notification") == []
    if bind.dialect.name == "postgresql":
        triggers = session.scalar(
            text("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'notification'::regclass")
        )
        assert triggers == 0


def test_ten_day_outage_sends_one_catch_up_alert_per_object(session: Session) -> None:
    rule = _rule(session, ReminderKind.STEP_OVERDUE, offset=1, repeat=1)
    # Step 2 (division, due 1 Nov) and step 3 (six schools, due 1 Dec) are open.
    first = _fire(session, rule, date(2022, 12, 2))
    back = _fire(session, rule, date(2022, 12, 12))  # ten days without a run
    assert Counter(key for _e, key, _p in back) == Counter(key for _e, key, _p in first)
    assert all(n == 1 for n in Counter((e, k) for e, k, _p in back).values())
    step3 = [p for _e, _k, p in back if p["due"] == "2022-12-01"]
    assert step3 and {p["days"] for p in step3} == {11}  # says the state now, not ten times


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_every_kind_reaches_its_people(session: Session, kind: ReminderKind) -> None:
    project = demo_project(session)
    day = date(2023, 2, 20)
    expected: set[str]
    if kind in (ReminderKind.STEP_DUE, ReminderKind.STEP_OVERDUE):
        _only_school_result(session)
        day = date(2022, 11, 29) if kind is ReminderKind.STEP_DUE else date(2022, 12, 5)
        expected = {SCHOOL}
    elif kind is ReminderKind.REVIEW_WAITING:
        result = _only_school_result(session)
        result.state = ResultState.SUBMITTED
        # 18:00 UTC on 10 Feb is 01:00 on 11 Feb in Bangkok: the wait counts from the 11th.
        result.submitted_at = datetime(2023, 2, 10, 18, 0, tzinfo=UTC)
        expected = {OFFICER}
        day = date(2023, 2, 14)
    elif kind is ReminderKind.INSTALLMENT_WAITING:
        _waiting_installment(session, datetime(2023, 2, 10, 3, 0, tzinfo=UTC))
        expected = {APPROVER}
        day = date(2023, 2, 13)
    elif kind is ReminderKind.REPORT_MISSING:
        expected = {OFFICER}  # January 2023 has no progress report
    else:
        self_assessing = kind is ReminderKind.EVALUATION_SELF
        _quarter_one(
            session,
            project,
            EvaluationState.OPEN if self_assessing else EvaluationState.SELF_ASSESSED,
        )
        expected = {OFFICER} if kind is ReminderKind.EVALUATION_SELF else {EVALUATOR}
    session.flush()
    rule = _rule(session, kind, offset=-3 if kind is ReminderKind.STEP_DUE else 3)
    assert {email for email, _k, _p in _fire(session, rule, day)} == expected
    if kind is ReminderKind.REVIEW_WAITING:  # one day earlier is too early in Bangkok
        session.execute(delete(Notification))
        assert _fire(session, rule, day - timedelta(days=1)) == []


def test_an_installment_asked_in_her_name_is_not_chased_with_her(session: Session) -> None:
    """The deputy asked for the installment acting for the approver: four eyes bars her from
    approving it, so "it has waited for approval" goes to the district's other approver,
    not to her, neither as an approver nor, when it waits too long, as the head."""
    approver = user(session, "approver")
    deputy, _password = make_user(
        session, Role.OFFICER, unit(session, "50230700"), "deputy-f3@demo.tidtam.local"
    )
    make_user(session, Role.APPROVER, unit(session, "50230000"), "approver2@demo.tidtam.local")
    allocation = session.scalars(select(Allocation).order_by(Allocation.id)).first()
    assert allocation is not None
    installment = Installment(
        allocation=allocation,
        amount=51000,
        state=InstallmentState.REQUESTED,
        requested_by_id=approver.id,  # the page acted with her authority
        requested_at=datetime(2023, 2, 10, 3, 0, tzinfo=UTC),
    )
    session.add(installment)
    session.flush()
    record(
        session,
        action="installment.request",
        object_type="installment",
        object_id=installment.id,
        actor=deputy,
        acting_for=approver,
        to_state="requested",
    )
    rule = _rule(session, ReminderKind.INSTALLMENT_WAITING, offset=3, escalate=0)
    told = {
        email
        for email, key, _p in _fire(session, rule, date(2023, 2, 13))
        if key == f"installment:{installment.id}"
    }
    assert told == {"approver2@demo.tidtam.local"}


def test_a_filed_report_stops_the_reminder(session: Session) -> None:
    project = demo_project(session)
    rule = _rule(session, ReminderKind.REPORT_MISSING, offset=5, repeat=7)
    assert report_month(date(2023, 2, 5), 5) == (date(2023, 1, 1), date(2023, 1, 31))
    assert report_month(date(2023, 2, 4), 5) == (date(2022, 12, 1), date(2022, 12, 31))
    session.add(ProgressReport(project_id=project.id, reported_on=date(2023, 1, 30), percent=40))
    session.flush()
    assert _fire(session, rule, date(2023, 2, 6)) == []
    assert [k for _e, k, _p in _fire(session, rule, date(2023, 3, 6))] == [f"project:{project.id}"]


def test_default_rules_are_added_once(session: Session) -> None:
    session.execute(delete(ReminderRule))
    _rule(session, ReminderKind.STEP_DUE, offset=-7)  # an admin's own rule
    assert ensure_default_rules(session, only_when_empty=True) == []  # what the task does
    added = ensure_default_rules(session)  # what `flask reminder-rules` does
    assert len(added) == len(DEFAULT_RULES) - 1 == len(ReminderKind) - 1
    assert ensure_default_rules(session) == []
    session.execute(delete(ReminderRule))
    assert len(ensure_default_rules(session, only_when_empty=True)) == len(ReminderKind)


@pytest.mark.worker
def test_two_runs_at_the_same_moment_send_one_alert_per_key(tmp_path: Path, app: Flask) -> None:
    with mail_sink() as sink, committed_stack(tmp_path, "deadlines", **sink.env()) as stack:
        with stack.app.app_context():  # every alert mailed at once, not held for the digest
            for person in db.session.scalars(select(User)):
                set_preference(db.session(), person, "*", Channel.EMAIL, DeliveryMode.IMMEDIATE)
            db.session.commit()
        log = tmp_path / "worker.log"  # the task adds the default rules to the empty table
        with running_worker(
            stack.env, queues="deadlines,notifications", pool="prefork", concurrency=2, log=log
        ):
            for _ in range(2):  # both pool processes take one
                stack.send("tidtam.deadlines.run", "2023-01-20")

            def emails() -> int:
                with stack.app.app_context():
                    count = db.session.scalar(
                        select(func.count(Notification.id)).where(
                            Notification.channel == Channel.EMAIL
                        )
                    )
                    db.session.rollback()
                return int(count or 0)

            expected = eventually(emails, timeout=60)
            sink.wait_for(expected, timeout=60)
            stack.send("tidtam.deadlines.run", "2023-01-20")  # and a third, later

            def runs_done() -> bool:
                text = log.read_text()
                return len(re.findall(r"tidtam\.deadlines\.run\[[^]]+\] succeeded", text)) == 3

            eventually(runs_done, timeout=60)
        text = log.read_text()
        assert "IntegrityError" not in text and "Traceback" not in text, text[-3000:]
        assert emails() == expected
        with stack.app.app_context():
            kinds = db.session.scalars(select(ReminderRule.kind)).all()
            db.session.rollback()
        assert sorted(kinds) == sorted(ReminderKind)  # seeded once, not by both runs
    keys = Counter(str(m.message["X-Tidtam-Delivery"]) for m in sink.mails)
    assert len(keys) == expected and set(keys.values()) == {1}
