"""Refused input and repeated row buttons, as a screen reader meets them (issue 18, items 2
and 3).

A refused POST of each main form comes back with the error summary (a focused alert at the top
of the form, each message a link to an existing field), every refused field marked
`aria-invalid="true"` and described by its own message (an element that exists). On the lists
where the same buttons repeat on every row (review queue, approvals, allocations), each button's
accessible name (its visible words and its visually hidden ones) differs from every other's.
Before the fix, no field was ever marked invalid, there was no summary, and every row's
buttons were named alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
from service.fiscal.models import FiscalYear
from service.projects.models import Project, StepResult
from service.projects.operations import create_project
from service.workflow import engine
from tests.conftest import csrf_token
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    school_allocation,
    school_result,
    unit,
    user,
)

FIELD_TAGS = ("input", "select", "textarea")
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    hidden_text: str = ""
    links: list[str] = field(default_factory=list)


class _Page(HTMLParser):
    """The page's elements by id, its error summaries (with their links) and its buttons (with
    their visible and visually hidden words)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, Element] = {}
        self.summaries: list[Element] = []
        self.buttons: list[Element] = []
        self.fields: list[Element] = []
        self._open: list[tuple[str, Element, bool]] = []  # tag, element, visually hidden
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        element = Element(tag, values)
        if "id" in values:
            assert values["id"] not in self.ids, f"id {values['id']} is used twice"
            self.ids[values["id"]] = element
        if tag in FIELD_TAGS:
            self.fields.append(element)
        if "data-error-summary" in values:
            self.summaries.append(element)
        if tag == "button":
            self.buttons.append(element)
        if tag == "a" and values.get("href", "").startswith("#"):
            for _tag, outer, _hidden in self._open:
                if "data-error-summary" in outer.attrs:
                    outer.links.append(values["href"][1:])
        if tag not in VOID:
            hidden = "visually-hidden" in values.get("class", "").split()
            self._open.append((tag, element, hidden))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        hidden = any(h for _t, _e, h in self._open)
        for _tag, element, _h in self._open:
            element.text += data
            if hidden:
                element.hidden_text += data


def _words(text: str) -> str:
    return " ".join(text.split())


def assert_refusal_shown(html: str, refused: set[str]) -> _Page:
    """One error summary, focused on load, linking to existing fields; each field id in
    `refused` (and every field marked) is invalid and described by existing messages."""
    page = _Page(html)
    assert len(page.summaries) == 1, f"{len(page.summaries)} error summaries"
    summary = page.summaries[0]
    assert summary.attrs.get("role") == "alert" and summary.attrs.get("tabindex") == "-1"
    assert "autofocus" in summary.attrs  # the focus moves there without JavaScript too
    title = page.ids[summary.attrs["aria-labelledby"]]
    assert _words(title.text) in ("มีข้อผิดพลาด", "There is a problem")
    assert summary.links, "the summary links to no field"
    for target in summary.links:
        assert target in page.ids, f"the summary links to #{target}, which does not exist"
        assert page.ids[target].tag in FIELD_TAGS, f"#{target} is not a field"
    assert refused <= set(summary.links), (refused, summary.links)
    marked = {f.attrs["id"] for f in page.fields if f.attrs.get("aria-invalid") == "true"}
    assert refused <= marked, (refused, marked)
    assert marked <= set(summary.links), "a field is marked but not in the summary"
    for element in page.fields:
        if element.attrs.get("aria-invalid") == "true":
            described = element.attrs.get("aria-describedby", "").split()
            assert described, f"#{element.attrs['id']} is not described by its message"
            for ident in described:
                assert ident in page.ids, f"#{element.attrs['id']} points at missing #{ident}"
                assert _words(page.ids[ident].text), f"#{ident} is empty"
        else:
            for ident in element.attrs.get("aria-describedby", "").split():
                assert ident in page.ids, f"{element.attrs} points at missing #{ident}"
    return page


def _no_summary(html: str) -> None:
    page = _Page(html)
    assert page.summaries == []
    assert not [f for f in page.fields if "aria-invalid" in f.attrs]


# ---- Refused forms ---------------------------------------------------------------------------


def test_the_school_result_form(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    _no_summary(client.get(f"/results/{result.id}").get_data(as_text=True))
    response = client.post(
        f"/results/{result.id}",
        data={
            "csrf_token": csrf_token(client, f"/results/{result.id}"),
            "completion": "150",
            "narrative": "",
            "files": [(io.BytesIO(b""), "")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = assert_refusal_shown(response.get_data(as_text=True), {"completion"})
    assert page.ids["completion"].attrs["aria-describedby"] == "completion-error"


def test_the_login_form(client: FlaskClient) -> None:
    _no_summary(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"csrf_token": csrf_token(client, "/login"), "email": "", "password": ""}
    )
    assert_refusal_shown(response.get_data(as_text=True), {"email", "password"})


def _project_form(session: Session, **overrides: object) -> dict[str, object]:
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    form: dict[str, object] = {
        "code": "50230000-9200",
        "fiscal_year_id": str(year.id),
        "owner_unit_id": str(unit(session, "50230000").id),
        "responsible_unit_id": str(unit(session, "50230700").id),
        "name": "โครงการทดสอบข้อผิดพลาด",
        "kind": "strategic",
        "approved_budget": "1000",
        "target_kind": ["quantity", "quantity"],
        "target_text": ["นักเรียน 500 คน", ""],
        "step_position": ["1", "2", "3"],
        "step_name": ["ขั้นแรก", "ขั้นสอง", ""],
        "step_weight": ["40", "60", ""],
        "step_start": ["2023-10-01", "2023-11-01", ""],
        "step_end": ["2023-10-31", "2024-03-31", ""],
        "step_unit": ["", "", ""],
    }
    form.update(overrides)
    return form


def test_the_project_editor(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    data = _project_form(
        session,
        approved_budget="lots",
        target_kind=["size", "quantity"],
        step_weight=["forty", "60", ""],
        step_end=["2023-10-31", "2023-10-15", ""],
    )
    data["csrf_token"] = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data=data)
    assert response.status_code == 422
    assert_refusal_shown(
        response.get_data(as_text=True), {"approved_budget", "target-kind-1", "step-1-weight"}
    )
    # The operations' refusals: a missing name, a step ending before it starts.
    data = _project_form(session, name="", step_end=["2023-10-31", "2023-10-15", ""])
    data["csrf_token"] = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data=data)
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {"name"})
    data = _project_form(session, step_end=["2023-10-31", "2023-10-15", ""])
    data["csrf_token"] = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data=data)
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {"step-2-end"})
    # every problem at once: a negative budget (not "must be a number"), each row's weight
    # out of range, a row ending before it starts, and the project's own missing name
    data = _project_form(
        session,
        name="",
        approved_budget="-5",
        step_weight=["-10", "110", ""],
        step_end=["2023-10-31", "2023-10-15", ""],
    )
    data["csrf_token"] = csrf_token(client, "/projects/new?lang=en")
    response = client.post("/projects/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert_refusal_shown(
        page, {"name", "approved_budget", "step-1-weight", "step-2-weight", "step-2-end"}
    )
    assert "must not be negative" in page or "ต้องไม่ติดลบ" in page


def test_the_project_editor_names_its_problems_in_the_forms_order(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """The summary named the project's missing name last, after the step rows, and the budget
    before the kind above it: the reader met them out of the order of the form."""
    client = login_as("officer")
    data = _project_form(
        session,
        name="",
        kind="flying",
        target_kind=["size", "quantity"],
        approved_budget="-5",
        step_weight=["-10", "110", ""],
        step_end=["2023-10-31", "2023-10-15", ""],
    )
    data["csrf_token"] = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data=data)
    assert response.status_code == 422
    page = assert_refusal_shown(response.get_data(as_text=True), set())
    assert page.summaries[0].links == [
        "name",
        "kind",
        "target-kind-1",
        "approved_budget",
        "step-1-weight",
        "step-2-weight",
        "step-2-end",
    ]


def test_the_progress_report_form(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = demo_project(session)
    response = client.post(
        f"/projects/{project.id}/reports",
        data={
            "csrf_token": csrf_token(client, f"/projects/{project.id}/edit"),
            "reported_on": "someday",
            "percent": "a lot",
            "narrative": "",
        },
    )
    assert response.status_code == 422
    page = assert_refusal_shown(response.get_data(as_text=True), {"percent", "reported_on"})
    # The summary sits in the report form, not in the plan's form above it.
    assert page.summaries[0].links and "project-form" in page.ids


def test_the_allocation_form(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = demo_project(session)
    response = client.post(
        "/budget/allocations",
        data={
            "csrf_token": csrf_token(client, "/budget"),
            "project_id": str(project.id),
            "recipient_unit_id": str(unit(session, "5023077101").id),
            "amount": "many",
            "purpose": "",
        },
    )
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {"amount"})


def test_the_score_form(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    project = demo_project(session)
    queue = "/evaluations?year=2566&quarter=3"
    response = client.post(
        "/evaluations/score",
        data={
            "csrf_token": csrf_token(client, queue),
            "subject_type": "project",
            "subject_id": str(project.id),
            "year": "2566",
            "quarter": "3",
            "score": "150",
            "sub_score_1": "80",
            "sub_score_2": "100",
            "comment": "",
        },
    )
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {f"project-{project.id}-score"})


def test_the_admin_forms(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    for path, data, refused in (
        ("/admin/years", {"be_year": "next"}, {"be_year"}),
        (
            "/admin/reminders",
            {"kind": "step_due", "name": "", "offset_days": "soon", "repeat_days": ""},
            {"offset_days"},
        ),
        ("/admin/units", {"code": "", "name_th": "", "kind": "school"}, {"code"}),
    ):
        response = client.post(path, data={"csrf_token": csrf_token(client, path), **data})
        assert response.status_code in (409, 422), (path, response.status_code)
        html = response.get_data(as_text=True)
        if refused:
            assert_refusal_shown(html, refused)
        else:  # a refusal without fields: the flash says why, no field is marked
            assert not [f for f in _Page(html).fields if "aria-invalid" in f.attrs]


def test_a_refused_transition_and_installment_request(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    allocation = school_allocation(session, AllocationState.SUBMITTED)
    client = login_as("approver")
    response = client.post(
        f"/actions/allocation/{allocation.id}/return",
        data={"csrf_token": csrf_token(client, "/approvals"), "next": "/approvals", "reason": ""},
    )
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {"reason"})

    allocation.state = AllocationState.APPROVED
    session.commit()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/approvals")})
    client = login_as("school")
    response = client.post(
        f"/allocations/{allocation.id}/installments",
        data={"csrf_token": csrf_token(client, "/school"), "amount": "twelve", "purpose": ""},
    )
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {"amount"})


# ---- Row buttons -----------------------------------------------------------------------------


def _names(html: str) -> list[tuple[str, str]]:
    """(visible words, accessible name: visible and visually hidden words) of every button a
    person can see."""
    out = []
    for button in _Page(html).buttons:
        if "hidden" in button.attrs or not _words(button.text):
            continue
        visible = button.text.replace(button.hidden_text, "") if button.hidden_text else button.text
        out.append((_words(visible), _words(button.text)))
    return out


def assert_rows_named_apart(html: str, visible_words: set[str]) -> None:
    """Each button whose visible words repeat (e.g. every row's "accept") has a name of its
    own; `visible_words` must be among the repeated ones."""
    names = _names(html)
    repeated = {v for v, _n in names if sum(1 for w, _m in names if w == v) > 1}
    assert visible_words <= repeated, (visible_words, repeated)
    for words in repeated:
        full = [n for v, n in names if v == words]
        assert len(set(full)) == len(full), f"buttons {words!r} share a name: {full}"
        assert all(n != words for n in full), f"{words!r} has no hidden words naming its row"


def _label(workflow: str, name: str) -> str:
    """The Thai name of a workflow's action, as its buttons show it."""
    return str(engine.load_workflows()[workflow].transition(name).label[0])


def _submitted_results(session: Session) -> list[StepResult]:
    results = [
        school_result(session, "5023077101", 3),
        school_result(session, "5023077101", 4),
    ]
    for result in results:
        engine.take(
            session,
            user(session, "school"),
            "step_result",
            result.id,
            "submit",
            {"completion": "100", "narrative": "ทำแล้ว"},
        )
    session.commit()
    return results


def test_review_queue_buttons_name_their_rows(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    _submitted_results(session)
    html = login_as("officer").get("/review").get_data(as_text=True)
    assert_rows_named_apart(
        html, {_label("step_result", "accept"), _label("step_result", "return")}
    )


def _allocations(session: Session) -> list[Allocation]:
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    project = create_project(
        session,
        user(session, "officer"),
        code="50230000-9201",
        name="โครงการทดสอบชื่อปุ่ม",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal("900000000.00"),
    )
    officer = user(session, "officer")
    rows = []
    for code, state in (
        ("5023077101", AllocationState.SUBMITTED),
        ("5023077102", AllocationState.SUBMITTED),
        ("5023077101", AllocationState.DISBURSING),
        ("5023077102", AllocationState.DISBURSING),
    ):
        allocation = Allocation(
            project=project,
            recipient_unit=unit(session, code),
            amount=Decimal("90000000.00"),
            state=state,
            created_by_id=officer.id,
        )
        session.add(allocation)
        rows.append(allocation)
    session.flush()
    for allocation in rows[2:]:
        for _ in range(2):
            session.add(
                Installment(
                    allocation=allocation,
                    amount=Decimal("40000000.00"),
                    state=InstallmentState.REQUESTED,
                    requested_by_id=user(session, "school").id,
                )
            )
    session.commit()
    return rows


def test_approvals_and_budget_buttons_name_their_rows(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    _allocations(session)
    client = login_as("approver")
    html = client.get("/approvals").get_data(as_text=True)
    assert_rows_named_apart(html, {_label("allocation", "return"), _label("installment", "reject")})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/approvals")})
    html = login_as("officer").get("/budget").get_data(as_text=True)
    # He prepared them: he withdraws them, and returning is the approver's.
    assert_rows_named_apart(html, {"ขอเงินประจำงวด", _label("allocation", "withdraw")})


def test_evaluation_queue_buttons_name_their_subjects(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    project = demo_project(session).code
    html = client.get("/evaluations?year=2566&quarter=3").get_data(as_text=True)
    assert ("บันทึกคะแนน", f"บันทึกคะแนน โครงการ {project}") in _names(html)
    # A subject with no score yet says so; "not opened" sat above a form that scores it.
    assert "ยังไม่ได้ให้คะแนน" in html and "ยังไม่เปิดประเมิน" not in html
    html = client.get("/evaluations?year=2566&quarter=3&kind=kpi").get_data(as_text=True)
    assert ("บันทึกคะแนน", "บันทึกคะแนน ตัวชี้วัด 5023-6525") in _names(html)


def test_the_project_editor_keeps_a_name(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Saving the plan with its name rubbed out was taken: the project lost its name."""
    client = login_as("officer")
    data = _project_form(session)
    data["csrf_token"] = csrf_token(client, "/projects/new")
    created = client.post("/projects/new", data=data)
    assert created.status_code == 302, created.get_data(as_text=True)[:500]
    project = session.scalars(select(Project).where(Project.code == "50230000-9200")).one()
    data = _project_form(session, name="  ")
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit")
    response = client.post(f"/projects/{project.id}/edit", data=data)
    assert response.status_code == 422
    assert_refusal_shown(response.get_data(as_text=True), {"name"})
    session.expire_all()
    assert session.get(Project, project.id).name == "โครงการทดสอบข้อผิดพลาด"


def test_a_new_project_without_its_choices_names_every_problem(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """With no year or unit chosen the editor named only those, and the empty code, name
    and a row's bad weight came one refusal later."""
    client = login_as("officer")
    data = _project_form(
        session, code="", name="", fiscal_year_id="", owner_unit_id="", step_weight=["x", "60", ""]
    )
    data["csrf_token"] = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data=data)
    assert response.status_code == 422
    assert_refusal_shown(
        response.get_data(as_text=True),
        {"code", "name", "fiscal_year_id", "owner_unit_id", "step-1-weight"},
    )
