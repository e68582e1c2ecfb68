"""Personal calendar feeds: a private, revocable URL per person holding their deadlines,
reviews and decisions waiting for them and evaluation windows, computed from the data as it
stands. The feed is written with `icalendar` and read back here with `vobject`, an
independent parser, and its events are checked against the rows they come from."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import vobject
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.budget.models import Allocation, AllocationState, Installment
from service.calendar.models import CalendarFeed
from service.core.fiscal import quarter_bounds
from service.evaluations.models import Evaluation, EvaluationState
from service.projects.models import PlanStep, ProjectState, ResultState, StepResult
from service.workflow import engine
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.work_data import demo_project, in_app_context, school_result, unit, user  # noqa: F401

URL = re.compile(r'id="calendar-url" readonly value="([^"]+)"')


def _feed_url(client: FlaskClient, role: str) -> str:
    """Sign in as `role`, make their feed on the settings page and read its path."""
    email = f"{role}@demo.tidtam.local"
    login(client, email, DEMO_PASSWORDS[email])
    token = csrf_token(client, "/notifications/settings")
    had = "/calendar/feed/revoke" in client.get("/notifications/settings").get_data(True)
    assert client.post("/calendar/feed", data={"csrf_token": token}).status_code == 302
    page = client.get("/notifications/settings").get_data(as_text=True)
    match = URL.search(page)
    assert match, "the new address is shown once on the settings page"
    # "the old one no longer works" only when there was an old one
    assert ("ที่อยู่เดิมใช้ไม่ได้อีก" in page) == had, had
    assert not URL.search(client.get("/notifications/settings").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/notifications/settings")})
    return "/" + match.group(1).split("/", 3)[3]


def _events(client: FlaskClient, path: str) -> dict[str, Any]:
    """The feed at `path`, signed out, parsed by vobject: its VEVENTs by UID (without the
    domain)."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = vobject.readOne(response.get_data(as_text=True))
    assert calendar.version.value == "2.0"
    events = getattr(calendar, "vevent_list", [])
    found = {event.uid.value.split("@")[0]: event for event in events}
    assert len(found) == len(events), "UIDs are unique"
    return found


def test_a_school_sees_its_own_deadlines_and_they_follow_the_data(
    session: Session, client: FlaskClient
) -> None:
    path = _feed_url(client, "school")
    events = _events(client, path)
    school_unit = unit(session, "5023077101")
    project = demo_project(session)
    owed = session.scalars(
        select(StepResult)
        .join(PlanStep)
        .where(
            StepResult.unit_id == school_unit.id,
            StepResult.state.in_(
                (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)
            ),
            PlanStep.project_id == project.id,
        )
    ).all()
    assert owed and project.state is ProjectState.LOCKED
    due = {k: v for k, v in events.items() if k.endswith("-due")}
    assert set(due) == {f"step-result-{r.id}-due" for r in owed}
    for result in owed:
        event = due[f"step-result-{result.id}-due"]
        assert event.dtstart.value == result.step.planned_end
        assert event.dtend.value == result.step.planned_end + timedelta(days=1)
        assert event.summary.value == f"ครบกำหนดส่งผล: {result.step.name} ({project.code})"
        assert event.url.value.endswith(f"/results/{result.id}")
    # Another school's results are not there, nor any decision or review.
    others = session.scalars(
        select(StepResult.id).where(StepResult.unit_id == unit(session, "5023077102").id)
    ).all()
    assert others and not {f"step-result-{i}-due" for i in others} & set(events)
    assert not [k for k in events if "review" in k or "decision" in k]

    # Submitted: it leaves the school's feed and waits in the officer's, same object's UID.
    result = school_result(session)
    engine.take(
        session,
        user(session, "school"),
        "step_result",
        result.id,
        "submit",
        {"completion": "100", "narrative": "เสร็จ"},
    )
    session.commit()
    assert f"step-result-{result.id}-due" not in _events(client, path)
    officer_path = _feed_url(client, "officer")
    review = _events(client, officer_path)[f"step-result-{result.id}-review"]
    assert result.submitted_at is not None
    submitted = (result.submitted_at + timedelta(hours=7)).date()
    assert review.dtstart.value == submitted + timedelta(days=3)
    assert review.summary.value.startswith("รอท่านตรวจสอบผล: ")
    first_uid = review.uid.value
    assert _events(client, officer_path)[f"step-result-{result.id}-review"].uid.value == first_uid
    engine.take(session, user(session, "officer"), "step_result", result.id, "accept")
    session.commit()
    assert f"step-result-{result.id}-review" not in _events(client, officer_path)


def test_decisions_go_to_who_may_take_them(session: Session, client: FlaskClient) -> None:
    officer, school = user(session, "officer"), user(session, "school")
    project = demo_project(session)
    big = Allocation(
        project=project,
        recipient_unit=unit(session, "50230772"),
        amount=Decimal("60000.00"),
        state=AllocationState.SUBMITTED,
        created_by_id=officer.id,
    )
    session.add(big)
    session.flush()
    approved = session.scalars(
        select(Allocation).where(Allocation.state == AllocationState.APPROVED)
    ).first()
    assert approved is not None
    small = Installment(allocation=approved, amount=Decimal("1000.00"), requested_by_id=school.id)
    session.add(small)
    session.commit()

    approver_events = _events(client, _feed_url(client, "approver"))
    assert f"allocation-{big.id}-decision" in approver_events
    summary = approver_events[f"allocation-{big.id}-decision"].summary.value
    assert summary.startswith("รอท่านพิจารณาการจัดสรร 60,000.00 บาท ให้เครือข่าย 72")
    # The allocation it draws on is above the officer's limit: its installments are the
    # approver's to decide (may_decide), so only the approver has it.
    assert f"installment-{small.id}-decision" in approver_events
    officer_events = _events(client, _feed_url(client, "officer"))
    assert f"installment-{small.id}-decision" not in officer_events
    school_events = _events(client, _feed_url(client, "school"))
    assert not [k for k in school_events if "decision" in k]


def test_evaluation_windows_in_english_for_an_english_reader(
    session: Session, client: FlaskClient
) -> None:
    evaluation = session.scalars(select(Evaluation)).first()
    assert evaluation is not None
    evaluation.state = EvaluationState.OPEN
    evaluation.published_at = None
    evaluation.score = None
    evaluation.evaluator_id = None
    officer = user(session, "officer")
    officer.language = "en"
    session.commit()
    year, quarter = evaluation.fiscal_year.be_year, evaluation.quarter
    quarter_end = quarter_bounds(year, quarter)[1]

    own = _events(client, _feed_url(client, "officer"))[f"evaluation-{evaluation.id}-self"]
    assert own.dtstart.value == quarter_end + timedelta(days=1)
    assert own.dtend.value == quarter_end + timedelta(days=8)  # the 7th day, inclusive
    assert own.summary.value == (
        f"Self-assessment window: project {evaluation.project.code}, Q{quarter} FY{year}"
    )
    window = _events(client, _feed_url(client, "evaluator"))[
        f"evaluation-window-{year}-q{quarter}-score"
    ]
    assert window.summary.value == f"ช่วงให้คะแนน ไตรมาสที่ {quarter}/{year}: รอให้คะแนน 1 รายการ"
    assert window.dtend.value == quarter_end + timedelta(days=31)


def test_the_address_is_kept_hashed_and_revoking_or_renewing_ends_it(
    session: Session, client: FlaskClient
) -> None:
    path = _feed_url(client, "school")
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    feed = session.scalars(select(CalendarFeed)).one()
    assert token not in (feed.token_hash, feed.prefix) and token.startswith(feed.prefix)
    assert client.get(path).status_code == 200
    session.refresh(feed)
    assert feed.last_used_at is not None  # shown on the settings page as "last read"
    assert client.get(path.replace(token, token[:-2] + "xx")).status_code == 404
    # A deactivated person's feed answers as if it never existed.
    feed.user.active = False
    session.commit()
    assert client.get(path).status_code == 404
    feed.user.active = True
    session.commit()

    renewed = _feed_url(client, "school")
    assert renewed != path
    assert client.get(path).status_code == 404
    assert client.get(renewed).status_code == 200

    login(client, "school@demo.tidtam.local", DEMO_PASSWORDS["school@demo.tidtam.local"])
    token = csrf_token(client, "/notifications/settings")
    assert client.post("/calendar/feed/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get(renewed).status_code == 404
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.action.like("calendar_feed.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == [
        "calendar_feed.create",
        "calendar_feed.revoke",
        "calendar_feed.create",
        "calendar_feed.revoke",
    ]
    assert (
        session.scalars(select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None))).all() == []
    )
