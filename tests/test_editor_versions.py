"""Two tabs of the project editor: a save from a page drawn before the project changed is
refused (409), shown again as typed with where to see the project now, and writes nothing;
every change the editor makes moves the version it is checked against."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.org.models import User
from service.projects import operations
from service.projects.models import Project, TargetKind
from service.strategy.models import StrategyNode
from tests.conftest import csrf_token
from tests.test_work_editor import _create, _form
from tests.work_data import in_app_context, unit  # noqa: F401

_VERSION = re.compile(r'name="version" value="(\d+)"')


def _form_version(page: str) -> re.Match[str] | None:
    """The version the editor form carries (the plan's action buttons carry one of their own,
    the project's as it is)."""
    return _VERSION.search(page.split('id="project-form"')[1])


def _project(session: Session) -> Project:
    session.expire_all()
    return session.scalars(select(Project).where(Project.code == "50230000-9100")).one()


def _tab(client: FlaskClient, project: Project) -> dict[str, str]:
    """What a freshly opened editor page sends back: its CSRF token and version."""
    page = client.get(f"/projects/{project.id}/edit?lang=en").get_data(as_text=True)
    found = _form_version(page)
    assert found, "the editor form carries no version"
    return {"csrf_token": csrf_token(client, f"/projects/{project.id}/edit"), "version": found[1]}


def _save(client: FlaskClient, session: Session, project: Project, tab: dict[str, str], **typed):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {**_form(session, **typed), **tab}
    return client.post(f"/projects/{project.id}/edit?lang=en", data=data)


def test_a_save_from_an_older_tab_is_refused_and_keeps_what_was_typed(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    tab_a, tab_b = _tab(client, project), _tab(client, project)

    assert _save(client, session, project, tab_a, contact_name="นางสาวมาลี ใจดี").status_code == 302

    refused = _save(client, session, project, tab_b, contact_phone="02-415-0021 ต่อ 7099")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409, page[:2000]
    # Nothing of B's form is written: A's contact stays.
    project = _project(session)
    assert project.contact_name == "นางสาวมาลี ใจดี"
    assert project.contact_phone == "02-415-0021 ต่อ 7011"
    # Who changed it and that it changed while the page was open, in words.
    officer = session.scalars(select(User).where(User.email == "officer@demo.tidtam.local")).one()
    assert "changed by" in page and officer.name in page and "while your page was open" in page
    # B's typing is shown again, with where to see the project now in a new tab.
    assert 'value="02-415-0021 ต่อ 7099"' in page
    assert 'data-testid="changed-meanwhile"' in page
    assert re.search(rf'href="/projects/{project.id}"[^>]*target="_blank"', page)
    # The form now stands for the project as it is: sent again, it is sent knowingly.
    assert _form_version(page)[1] == str(project.version)  # type: ignore[index]
    again = {"csrf_token": tab_b["csrf_token"], "version": str(project.version)}
    saved = _save(client, session, project, again, contact_phone="02-415-0021 ต่อ 7099")
    assert saved.status_code == 302
    assert _project(session).contact_phone == "02-415-0021 ต่อ 7099"


def test_the_refusal_reads_in_thai(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    tab_a, tab_b = _tab(client, project), _tab(client, project)
    assert _save(client, session, project, tab_a, contact_name="นางสาวมาลี ใจดี").status_code == 302
    data: dict[str, Any] = {**_form(session, contact_phone="1234"), **tab_b}
    refused = client.post(f"/projects/{project.id}/edit?lang=th", data=data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "ระหว่างที่หน้านี้เปิดอยู่" in page
    assert "changed while your page was open" not in page


def test_a_form_without_a_version_is_saved_as_before(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    tab = _tab(client, project)
    assert _save(client, session, project, tab, contact_name="นางสาวมาลี ใจดี").status_code == 302
    old_client = {"csrf_token": tab["csrf_token"]}
    assert _save(client, session, project, old_client, contact_phone="1234").status_code == 302
    assert _project(session).contact_phone == "1234"


def test_a_refused_field_keeps_the_version_the_page_was_drawn_at(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    tab_a, tab_b = _tab(client, project), _tab(client, project)
    bad = _save(client, session, project, tab_b, approved_budget="lots")
    assert bad.status_code == 422
    kept = _form_version(bad.get_data(as_text=True))
    assert kept and kept[1] == tab_b["version"]
    # A saves meanwhile; B, correcting the budget, is still told.
    assert _save(client, session, project, tab_a, contact_name="นางสาวมาลี ใจดี").status_code == 302
    assert _save(client, session, project, tab_b, contact_phone="1234").status_code == 409


def test_adding_steps_targets_and_objectives_in_a_checked_save(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    saved = _save(
        client,
        session,
        project,
        _tab(client, project),
        objective=["เพื่อส่งเสริมการอ่าน", "เพื่อพัฒนาครู", "เพื่อพัฒนาห้องสมุด"],
        target_kind=["quantity", "quality", "quality"],
        target_text=["นักเรียน 500 คน", "ร้อยละ 80 อ่านคล่อง", "ห้องสมุดมีชีวิต"],
        step_position=["1", "2", ""],
        step_name=["ขออนุมัติโครงการ", "ดำเนินโครงการ", "รายงานผล"],
        step_weight=["40", "40", "20"],
        step_start=["2023-10-01", "2023-11-01", "2024-04-01"],
        step_end=["2023-10-31", "2024-03-31", "2024-04-30"],
        step_unit=["", "", ""],
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    project = _project(session)
    assert len(project.steps) == 3 and len(project.objectives) == 3 and len(project.targets) == 3


def _only_steps(project: Project, session: Session) -> None:
    step = project.steps[0]
    operations.save_step(
        session,
        _officer(session),
        project,
        position=step.position,
        name=step.name,
        weight=Decimal("30"),
        planned_start=step.planned_start,
        planned_end=step.planned_end,
    )


def _a_new_step(project: Project, session: Session) -> None:
    operations.save_step(
        session,
        _officer(session),
        project,
        position=3,
        name="รายงานผล",
        weight=Decimal("20"),
        planned_start=date(2024, 4, 1),
        planned_end=date(2024, 4, 30),
    )


def _removed_step(project: Project, session: Session) -> None:
    operations.remove_steps(session, _officer(session), project, [2])


def _texts(project: Project, session: Session) -> None:
    objectives = [o.text for o in project.objectives]
    targets = [(t.kind, t.text) for t in project.targets]
    objectives[0] = "เพื่อส่งเสริมการอ่านอย่างยั่งยืน"
    operations.set_objectives_and_targets(
        session, _officer(session), project, objectives, [*targets, (TargetKind.QUALITY, "ใหม่")]
    )


def _strategies(project: Project, session: Session) -> None:
    nodes = list(session.scalars(select(StrategyNode).order_by(StrategyNode.code).limit(2)))
    operations.link_strategies(session, _officer(session), project, nodes)


def _fields(project: Project, session: Session) -> None:
    operations.update_project(session, _officer(session), project, {"contact_name": "คนใหม่"})


def _officer(session: Session) -> User:
    return session.scalars(select(User).where(User.email == "officer@demo.tidtam.local")).one()


@pytest.mark.parametrize(
    "edit", [_fields, _texts, _strategies, _only_steps, _a_new_step, _removed_step]
)
def test_every_change_of_the_editor_moves_the_version(
    edit: Any, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    drawn = project.version
    edit(project, session)
    session.flush()
    assert project.version > drawn
    with pytest.raises(operations.Refused) as refused:
        operations.hold_unchanged(session, project, drawn)
    assert refused.value.status == 409


def test_a_save_that_changes_nothing_leaves_the_version(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    drawn = project.version
    # The form exactly as created: a second tab saved unchanged does not refuse the first.
    texts_changed = select(func.count()).where(
        AuditEntry.object_id == project.id, AuditEntry.action == "project.texts"
    )
    recorded = session.scalar(texts_changed)
    assert _save(client, session, project, _tab(client, project)).status_code == 302
    assert _project(session).version == drawn
    # nor does it add "project texts changed" to the history, as it did on every save
    assert session.scalar(texts_changed) == recorded


def test_an_objective_or_target_cleared_in_a_draft_is_removed(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The editor says to clear an objective's text to remove it, and the save was refused
    ("texts are withdrawn by a revision"): in a draft, which a revision would only return to,
    a cleared objective or target was never removable."""
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    assert [o.text for o in project.objectives] == ["เพื่อส่งเสริมการอ่าน", "เพื่อพัฒนาครู"]
    saved = _save(
        client,
        session,
        project,
        _tab(client, project),
        objective=["เพื่อพัฒนาครู", "", ""],
        target_kind=["quality", "quantity", "quantity"],
        target_text=["ร้อยละ 80 อ่านคล่อง", "", ""],
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:600]
    project = _project(session)
    assert [o.text for o in project.objectives] == ["เพื่อพัฒนาครู"]
    assert [(t.kind, t.text) for t in project.targets] == [(TargetKind.QUALITY, "ร้อยละ 80 อ่านคล่อง")]


_SELECTED = re.compile(r'<select id="(\w+)"[^>]*>.*?<option value="(\d+)" selected>([^<]*)<', re.S)


def test_a_projects_year_and_units_show_as_they_are(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The fixed year and units were drawn as disabled menus: after a refused save (which
    sends no disabled field back) the year showed the first listed, 2566, and an owning unit
    above the units listed showed as the first of them. They show the project's own."""
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = _project(session)
    shown = {
        "fiscal_year_id": (str(project.fiscal_year_id), str(project.fiscal_year.be_year)),
        "owner_unit_id": (str(project.owner_unit_id), project.owner_unit.name("en")),
        "responsible_unit_id": (
            str(project.responsible_unit_id),
            project.responsible_unit.name("en"),
        ),
    }
    fresh = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    refused = _save(client, session, project, _tab(client, project), approved_budget="lots")
    assert refused.status_code == 422
    for page in (fresh, refused.get_data(as_text=True)):  # in English (the tab asked it)
        found = {name: (value, text) for name, value, text in _SELECTED.findall(page)}
        for name, (value, text) in shown.items():
            assert found[name] == (value, text), name
