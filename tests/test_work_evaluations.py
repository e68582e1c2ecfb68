"""The evaluator's quarter queue (score, publish, reopen with a reason) and the KPI table."""

from __future__ import annotations

import re
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.evaluations.models import Evaluation, EvaluationState
from service.kpis.models import Kpi
from tests.conftest import csrf_token
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
)

QUEUE = "/evaluations?year=2566&quarter=3"


def _score(client: FlaskClient, project_id: int, **values: str):  # type: ignore[no-untyped-def]
    data = {
        "csrf_token": csrf_token(client, QUEUE + "&lang=en"),
        "subject_type": "project",
        "subject_id": str(project_id),
        "year": "2566",
        "quarter": "3",
        "score": "90",
        "sub_score_1": "80",
        "sub_score_2": "100",
        "comment": "ดำเนินการได้ดี",
    }
    data.update(values)
    return client.post("/evaluations/score", data=data)


def _evaluation(session: Session, project_id: int, quarter: int) -> Evaluation:
    return session.scalars(
        select(Evaluation).where(Evaluation.project_id == project_id, Evaluation.quarter == quarter)
    ).one()


def test_score_publish_and_reopen_a_quarter(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    project = demo_project(session)
    page = client.get(QUEUE).get_data(as_text=True)
    assert f'data-subject="project-{project.id}"' in page
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    assert f'data-subject="kpi-{kpi.id}"' not in page  # KPIs have a list of their own
    kpis = client.get(QUEUE + "&kind=kpi").get_data(as_text=True)
    assert f'data-subject="kpi-{kpi.id}"' in kpis
    assert ">2.1<" in page and ">2.2<" in page  # sub-score labels from the config
    assert _score(client, project.id).status_code == 302
    evaluation = _evaluation(session, project.id, 3)
    assert evaluation.state is EvaluationState.SCORED
    assert (evaluation.score, evaluation.sub_score_1, evaluation.sub_score_2) == (
        Decimal("90.00"),
        Decimal("80.00"),
        Decimal("100.00"),
    )
    token = csrf_token(client, QUEUE)
    publish = client.post(
        f"/actions/evaluation/{evaluation.id}/publish", data={"csrf_token": token, "next": QUEUE}
    )
    assert publish.status_code == 302
    session.expire_all()
    assert evaluation.state is EvaluationState.PUBLISHED
    # Published is frozen: no score form, a reopen that needs a reason.
    section = client.get(QUEUE).get_data(as_text=True).split(f'id="project-{project.id}"')[1]
    section = section.split("</section>")[0]
    assert 'action="/evaluations/score"' not in section and 'data-action="reopen"' in section
    assert (
        client.post(
            f"/actions/evaluation/{evaluation.id}/reopen", data={"csrf_token": token}
        ).status_code
        == 422
    )
    reopened = client.post(
        f"/actions/evaluation/{evaluation.id}/reopen",
        data={"csrf_token": token, "reason": "คะแนนไตรมาสผิด", "next": QUEUE},
    )
    assert reopened.status_code == 302
    session.expire_all()
    assert evaluation.state is EvaluationState.SCORED
    assert [r.score for r in evaluation.revisions] == [Decimal("90.00")]
    assert "คะแนนไตรมาสผิด" in client.get(QUEUE).get_data(as_text=True)


def test_a_bad_score_comes_back_with_the_form_as_typed(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    project = demo_project(session)
    response = _score(client, project.id, score="150", comment="ความเห็นที่พิมพ์ไว้")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="150"' in page and "ความเห็นที่พิมพ์ไว้" in page
    assert "at most 100" in page


def test_only_evaluators_score(login_as, client: FlaskClient, session: Session) -> None:  # type: ignore[no-untyped-def]
    login_as("officer")
    assert client.get(QUEUE).status_code == 403
    token = csrf_token(client, "/review")
    project = demo_project(session)
    response = client.post(
        "/evaluations/score",
        data={"csrf_token": token, "subject_type": "project", "subject_id": str(project.id)},
    )
    assert response.status_code == 403
    # The published Q2 score of the demo may not be reopened by the officer either.
    evaluation = _evaluation(session, project.id, 2)
    reopen = client.post(
        f"/actions/evaluation/{evaluation.id}/reopen", data={"csrf_token": token, "reason": "x"}
    )
    assert reopen.status_code == 403


def test_kpi_table_shows_the_quarters_with_their_fractions(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    login_as("evaluator")
    page = client.get(f"/kpis/{kpi.id}").get_data(as_text=True)
    table = page.split('id="kpi-quarters"')[1].split("</table>")[0]
    for quarter in (1, 2, 3, 4):
        row = table.split(f'data-quarter="{quarter}"')[1].split("</tr>")[0]
        assert "0.00" in row and "0 / 0" in row
    assert "(2.1 / 2.2)" in table
    assert 'data-testid="target">100<' in page
    token = csrf_token(client, QUEUE)
    client.post("/logout", data={"csrf_token": token})
    login_as("school")
    assert client.get(f"/kpis/{kpi.id}").status_code == 404


def test_the_queue_narrows_to_a_unit_or_a_text_a_page_at_a_time(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    project = demo_project(session)
    subject = f'data-subject="project-{project.id}"'
    assert subject in client.get(QUEUE + "&unit=50230000").get_data(as_text=True)
    assert subject in client.get(QUEUE + "&q=3598").get_data(as_text=True)
    assert subject not in client.get(QUEUE + "&q=no-such-code").get_data(as_text=True)
    assert client.get(QUEUE + "&unit=99999999").status_code == 404
    # a page past the last is the last page, not an error
    assert subject in client.get(QUEUE + "&q=3598&page=40").get_data(as_text=True)


def _version_on(page: str, project_id: int) -> str:
    section = page.split(f'id="project-{project_id}"')[1].split("</section>")[0]
    found = re.search(r'name="version" value="([0-9]+)"', section)
    assert found is not None
    return found.group(1)


def test_a_score_from_a_page_left_open_does_not_overwrite_one_saved_since(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """Two pages of the queue are open (two evaluators, or one in two tabs). The first saves
    90; the second, drawn before, saves 50: it is refused (409) with the 90 shown, the 50
    kept in the form and a Thai reason; pressing save again on that page replaces it."""
    client = login_as("evaluator")
    project = demo_project(session)
    stale = _version_on(client.get(QUEUE).get_data(as_text=True), project.id)
    assert stale == "0"
    assert _score(client, project.id, version=stale).status_code == 302
    refused = _score(client, project.id, version=stale, score="50", comment="จากหน้าเก่า")
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert 'data-testid="score">90<' in page  # what was saved meanwhile
    assert 'value="50"' in page and "จากหน้าเก่า" in page  # what was typed
    assert _evaluation(session, project.id, 3).score == Decimal("90.00")
    # Seen and meant: the page's version is now the saved one.
    again = _score(client, project.id, version=_version_on(page, project.id), score="50")
    assert again.status_code == 302
    session.expire_all()
    assert _evaluation(session, project.id, 3).score == Decimal("50.00")
    # A page drawn at an earlier scored version is refused too, in Thai.
    thai = client.post(
        "/evaluations/score?lang=th",
        data={
            "csrf_token": csrf_token(client, QUEUE),
            "subject_type": "project",
            "subject_id": str(project.id),
            "year": "2566",
            "quarter": "3",
            "score": "70",
            "version": "1",
        },
    )
    assert thai.status_code == 409
    assert "มีผู้บันทึกคะแนนไว้ระหว่างที่หน้านี้เปิดอยู่" in thai.get_data(as_text=True)
    # Published meanwhile: the page says so, not "press save again".
    evaluation = _evaluation(session, project.id, 3)
    token = csrf_token(client, QUEUE)
    client.post(f"/actions/evaluation/{evaluation.id}/publish", data={"csrf_token": token})
    published = _score(client, project.id, version=_version_on(page, project.id), score="60")
    assert published.status_code == 409
    assert "press save again" not in published.get_data(as_text=True)


def test_the_queue_is_named_in_thai_in_the_tab_too(login_as) -> None:  # type: ignore[no-untyped-def]
    """The browser tab (and the history, and a screen reader's first words) read the page's
    title: "ไตรมาสที่ 3", not "Q3"."""
    client = login_as("evaluator")
    page = client.get(QUEUE + "&lang=th").get_data(as_text=True)
    title = page.split("<title>")[1].split("</title>")[0]
    assert "Q3" not in title and "ไตรมาส" in title and "2566" in title, title


def test_the_queue_asks_the_same_for_2_or_12_scored_subjects(
    app, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """Each scored row's reopenings and what the evaluator may do with it are read with the
    page, not asked for row by row (103 statements for a page of 50 at 100,000 projects)."""
    from service.evaluations.models import EvaluationRevision
    from service.fiscal.models import FiscalYear
    from service.org.models import User
    from tests.project_data import make_project, unit
    from tests.sql_count import counting

    year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == 2566))
    evaluator = session.scalar(select(User).where(User.email == "evaluator@demo.tidtam.local"))
    assert year is not None and evaluator is not None
    division = unit(session, "50230700")

    def scored(count: int) -> None:
        for number in range(count):
            project = make_project(session, owner=division, name=f"ประเมิน {count}-{number}")
            evaluation = Evaluation(
                subject_type="project",
                project_id=project.id,
                fiscal_year_id=year.id,
                quarter=3,
                state=EvaluationState.SCORED,
                score=Decimal("70"),
                evaluator_id=evaluator.id,
            )
            session.add(evaluation)
            session.flush()
            session.add(
                EvaluationRevision(
                    evaluation_id=evaluation.id,
                    score=Decimal("60"),
                    reopened_by_id=evaluator.id,
                    reason="แก้คะแนน",
                )
            )
        session.commit()

    client = login_as("evaluator")

    def statements() -> int:
        client.get(QUEUE)
        with counting(app.extensions["tidtam.db"]) as sent:
            body = client.get(QUEUE).get_data(as_text=True)
        assert "แก้คะแนน" in body
        return len(sent)

    scored(2)
    few = statements()
    scored(10)
    assert statements() == few


def test_a_quarter_that_has_not_begun_is_not_scored(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Quarter 4 of the year after this one, scored and published in advance, showed on the
    public page: a quarter is evaluated from its first day. The queue says when it begins,
    and every door refuses, opening nothing."""
    from service.core.fiscal import fiscal_year_bounds, fiscal_year_of, local_today
    from service.fiscal.models import FiscalYear
    from service.workflow.engine import Refused, take
    from tests.project_data import make_project
    from tests.work_data import unit, user

    be_year = fiscal_year_of(local_today()) + 1
    starts, ends = fiscal_year_bounds(be_year)
    future = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if future is None:
        session.add(FiscalYear(be_year=be_year, starts_on=starts, ends_on=ends))
        session.flush()
    project = make_project(session, owner=unit(session, "50230700"), be_year=be_year)
    session.commit()
    client = login_as("evaluator")
    # a year that does not exist is not shown as another year's page
    assert client.get(f"/evaluations?year={be_year + 5}&quarter=1").status_code == 404
    # nor a quarter that is none (0 showed this quarter, as 5 and -1 did not)
    for quarter in ("0", "5", "-1"):
        assert client.get(f"/evaluations?year={be_year}&quarter={quarter}").status_code == 404
    # the years offered newest first, as on the dashboard and the overview
    menu = client.get(f"/evaluations?year={be_year}&quarter=1").get_data(as_text=True)
    offered = re.findall(r'<option value="(\d{4})"', menu)
    assert offered and offered == sorted(offered, reverse=True)
    queue = f"/evaluations?year={be_year}&quarter=4"
    section = client.get(queue + "&lang=en").get_data(as_text=True)
    section = section.split(f'id="project-{project.id}"')[1].split("</section>")[0]
    assert "Quarter 4 begins on" in section and 'action="/evaluations/score"' not in section
    refused = client.post(
        "/evaluations/score",
        data={
            "csrf_token": csrf_token(client, queue),
            "subject_type": "project",
            "subject_id": str(project.id),
            "year": str(be_year),
            "quarter": "4",
            "score": "95",
        },
    )
    assert refused.status_code in (409, 422)
    found = select(Evaluation).where(Evaluation.project_id == project.id)
    assert session.scalars(found).first() is None
    # an evaluation opened in advance (by a script, say) is not scored or published either
    from service.evaluations.operations import open_evaluation

    opened = open_evaluation(session, None, project.fiscal_year, 4, project=project)
    try:
        take(session, user(session, "evaluator"), "evaluation", opened.id, "score", {"score": "95"})
    except Refused as refusal:
        assert "cannot be evaluated before" in refusal.reason
    else:
        raise AssertionError("a quarter not begun was scored")
