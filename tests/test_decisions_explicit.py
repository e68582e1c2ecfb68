"""A decision is never assumed (issue 18, finding 1): every endpoint that takes one of several
decisions answers a POST without an explicit, valid one with 400 and a message in the reader's
language, and writes nothing. The review queue once accepted when no action came with the
ticked results (its menu's first choice), and the admin toggles closed a year or paused a
rule when their value was missing."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.projects.models import ResultState, StepResult
from service.workflow import engine
from tests.conftest import csrf_token
from tests.work_data import (
    in_app_context,  # noqa: F401
    school_result,
    user,
)

#: The Thai of the refusal (service.workflow.screens.NO_DECISION).
NO_DECISION_TH = "ไม่ได้เลือกการตัดสินใจ"


def _audit_rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _submitted(session: Session) -> list[StepResult]:
    results = [school_result(session, "5023077101", position) for position in (3, 4)]
    for result in results:
        engine.take(
            session,
            user(session, "school"),
            "step_result",
            result.id,
            "submit",
            {"completion": "60", "narrative": "ทำแล้วบางส่วน"},
        )
    session.commit()
    return results


def _refused_without_writing(
    client: FlaskClient, session: Session, path: str, data: dict[str, Any], state: Any
) -> None:
    """POST `data` (with the CSRF token, the page in Thai): 400, the Thai refusal, and neither
    an audit row nor a change of `state()`."""
    audit, before = _audit_rows(session), state()
    token = csrf_token(client, "/review?lang=th" if path == "/review" else "/admin/?lang=th")
    response = client.post(path, data={"csrf_token": token, **data})
    assert response.status_code == 400, (path, data, response.status_code)
    assert NO_DECISION_TH in response.get_data(as_text=True)
    session.expire_all()
    assert _audit_rows(session) == audit
    assert state() == before


REVIEW_WITHOUT_A_DECISION = [
    pytest.param({}, id="no action"),
    pytest.param({"action": ""}, id="empty action"),
    pytest.param({"action": "approve"}, id="unknown action"),
    pytest.param({"bulk": "1"}, id="the old bulk button"),
    pytest.param({"single": "bogus:{id}"}, id="unknown single"),
]


@pytest.mark.parametrize("extra", REVIEW_WITHOUT_A_DECISION)
def test_the_review_queue_takes_no_decision_it_was_not_given(
    login_as,  # type: ignore[no-untyped-def]
    session: Session,
    extra: dict[str, str],
) -> None:
    results = _submitted(session)
    client = login_as("officer")
    data: dict[str, Any] = {
        "ids": [str(r.id) for r in results],
        "reason": "ไม่มีหลักฐานการอบรม",
        **{key: value.format(id=results[0].id) for key, value in extra.items()},
    }

    def state() -> list[tuple[ResultState, str | None]]:
        return [(r.state, r.review_reason) for r in results]

    _refused_without_writing(client, session, "/review", data, state)
    assert all(r.state == ResultState.SUBMITTED for r in results)
    # The page comes back with what was typed and ticked, so nothing is lost.
    page = client.post(
        "/review", data={"csrf_token": csrf_token(client, "/review"), **data}
    ).get_data(as_text=True)
    assert "ไม่มีหลักฐานการอบรม</textarea>" in page
    for result in results:
        assert f'value="{result.id}" id="pick-{result.id}" checked' in page


@pytest.mark.parametrize("value", [None, "", "yes", "true"])
def test_an_admin_toggle_is_never_assumed(login_as, session: Session, value: str | None) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    year = session.scalars(select(FiscalYear).where(FiscalYear.is_open)).first()
    assert year is not None
    rule = ReminderRule(kind=ReminderKind.STEP_DUE, name="เตือนก่อนครบกำหนด", offset_days=-3)
    session.add(rule)
    session.commit()
    assert rule.active
    _refused_without_writing(
        client,
        session,
        f"/admin/years/{year.id}/open",
        {} if value is None else {"open": value},
        lambda: year.is_open,
    )
    _refused_without_writing(
        client,
        session,
        f"/admin/reminders/{rule.id}/active",
        {} if value is None else {"active": value},
        lambda: rule.active,
    )


def test_the_explicit_decisions_still_work(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The counterpart: each button's own value takes its decision."""
    results = _submitted(session)
    client = login_as("officer")
    token = csrf_token(client, "/review?lang=en")
    response = client.post(
        "/review",
        data={
            "csrf_token": token,
            "action": "return",
            "ids": [str(results[0].id)],
            "reason": "ไม่มีหลักฐานการอบรม",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert results[0].state == ResultState.RETURNED
    assert results[0].review_reason == "ไม่มีหลักฐานการอบรม"
    assert results[1].state == ResultState.SUBMITTED


def test_a_workflow_button_names_its_decision_in_its_path(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The project page's, the budget's and the evaluations' buttons each post to
    /actions/<workflow>/<id>/<decision>, one form per decision: a decision that does not
    exist names no resource (404) and takes nothing."""
    results = _submitted(session)
    client = login_as("officer")
    audit = _audit_rows(session)
    token = csrf_token(client, "/review")
    for name in ("bogus", "", "accept "):
        response = client.post(
            f"/actions/step_result/{results[0].id}/{name}",
            data={"csrf_token": token, "reason": "ไม่มีหลักฐานการอบรม"},
        )
        assert response.status_code in (404, 405), (name, response.status_code)
    session.expire_all()
    assert _audit_rows(session) == audit
    assert results[0].state == ResultState.SUBMITTED
