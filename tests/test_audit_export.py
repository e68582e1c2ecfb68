"""The audit export of a unit (CSV and XLSX, page and API): who, acting for whom, what, from,
to, why, with each row's hash and previous hash, checked without the database by the recipe in
docs/audit_verify.py; a changed cell is caught; a unit out of reach is 404."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.core.fiscal import local_today
from service.org.models import OrgUnit, User
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.work_data import demo_project

ROOT = Path(__file__).parent.parent


def _recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_verify", ROOT / "docs" / "audit_verify.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entries(session: Session) -> OrgUnit:
    project = demo_project(session)
    officer = session.scalars(select(User).where(User.email == "officer@demo.tidtam.local")).one()
    approver = session.scalars(select(User).where(User.email == "approver@demo.tidtam.local")).one()
    record(
        session,
        action="project.update",
        object_type="project",
        object_id=project.id,
        actor=officer,
        acting_for=approver,
        from_state="draft",
        to_state="submitted",
        changes={"approved_budget": "180000.00"},
        reason='-ปรับตามมติ, "ที่ประชุม"\nบรรทัดสอง',
    )
    record(
        session,
        action="org_unit.update",
        object_type="org_unit",
        object_id=999_999,  # not a unit of the district: left out
        actor=officer,
        reason="ไม่เกี่ยว",
    )
    session.commit()
    return project.owner_unit


def test_csv_and_xlsx_carry_the_chain_and_check_without_the_database(
    session: Session, login_as, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    unit = _entries(session)
    client: FlaskClient = login_as("approver")
    today = local_today().isoformat()
    recipe = _recipe()
    for fmt in ("csv", "xlsx"):
        response = client.get(
            f"/audit/export?unit_id={unit.id}&from={today}&to={today}&format={fmt}"
        )
        assert response.status_code == 200, response.text[:500]
        path = tmp_path / f"trail.{fmt}"
        path.write_bytes(response.data)
        checked, problem = recipe.check(path)
        assert problem is None and checked >= 1, problem
        rows = list(recipe.rows(path))
        mine = [r for r in rows if r[5] == "project.update" and "มติ" in r[10]]
        assert len(mine) == 1
        row = mine[0]
        assert row[8:10] == ["draft", "submitted"]
        assert row[14:16] == ["นายสมชาย รักงาน", "นางวิไล ผู้อำนวยการ"]  # who, for whom
        # After the chain's codes, what they mean in the reader's language.
        what, of_what, before, after = row[17:21]
        assert of_what == "โครงการ" and (before, after) != ("draft", "submitted"), row[17:21]
        assert what and what != "project.update"
        assert not any(r[5] == "org_unit.update" and r[7] == "999999" for r in rows)
    # One changed cell and the recipe names the row.
    text = (tmp_path / "trail.csv").read_text(encoding="utf-8-sig")
    (tmp_path / "changed.csv").write_text(text.replace("180000.00", "18000.00"), encoding="utf-8")
    _checked, problem = recipe.check(tmp_path / "changed.csv")
    assert problem is not None and "does not match its hash" in problem
    book = load_workbook(io.BytesIO((tmp_path / "trail.xlsx").read_bytes()))
    assert book.worksheets[0]["N1"].value  # the hash column has its Thai header


def test_the_api_exports_and_a_unit_out_of_reach_is_not_found(
    app: Flask, session: Session, login_as
) -> None:  # type: ignore[no-untyped-def]
    _entries(session)
    unit = demo_project(session).responsible_unit  # the officer's division
    client: FlaskClient = login_as("officer")
    response = client.get(f"/api/v1/audit-export?unit_id={unit.id}&format=csv")
    assert response.status_code == 200
    assert response.data.decode("utf-8-sig").count("project.update") >= 1
    school = app.test_client()
    login(school, "school@demo.tidtam.local", DEMO_PASSWORDS["school@demo.tidtam.local"])
    assert school.get(f"/api/v1/audit-export?unit_id={unit.id}").status_code == 404
    # The page is not the school's at all (it may export no unit's trail): 403, not the unit.
    assert school.get(f"/audit/export?unit_id={unit.id}&format=csv").status_code == 403
    assert client.get("/audit/export?unit_id=abc&format=csv").status_code == 422


def test_the_root_units_export_by_its_admin_holds_every_entry(
    session: Session, login_as, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An auditor asks an admin for the root unit's export to see every link: accounts,
    tokens and KPIs included. A district's export holds its KPIs, and no account's entry."""
    from service.audit.models import AuditEntry
    from service.kpis.models import Kpi

    _entries(session)
    admin = session.scalars(select(User).where(User.email == "admin@demo.tidtam.local")).one()
    record(session, action="user.create", object_type="user", object_id=admin.id, actor=admin)
    kpi = session.scalars(select(Kpi)).first()
    assert kpi is not None
    record(session, action="kpi.update", object_type="kpi", object_id=kpi.id, actor=admin)
    session.commit()
    root = session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).one()
    today = local_today().isoformat()
    recipe = _recipe()
    client: FlaskClient = login_as("admin")
    response = client.get(f"/audit/export?unit_id={root.id}&from={today}&to={today}&format=csv")
    path = tmp_path / "root.csv"
    path.write_bytes(response.data)
    checked, problem = recipe.check(path)
    assert problem is None
    chained = session.scalars(select(AuditEntry.chain_seq).where(AuditEntry.chain_seq.is_not(None)))
    assert recipe.skipped(path) == 0 and checked >= 1
    assert {r[5] for r in recipe.rows(path)} >= {"user.create", "kpi.update", "org_unit.update"}
    assert checked == len([seq for seq in chained if seq >= int(next(recipe.rows(path))[0])])
    # the district's own export: its KPI, no account's entry, and the gap said
    district = demo_project(session).owner_unit
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    approver = login_as("approver")
    response = approver.get(
        f"/audit/export?unit_id={district.id}&from={today}&to={today}&format=csv"
    )
    assert response.status_code == 200, response.text[:300]
    path.write_bytes(response.data)
    actions = {r[5] for r in recipe.rows(path)}
    assert "kpi.update" in actions and "user.create" not in actions
    assert recipe.skipped(path) >= 1


def test_the_export_form_takes_days_as_typed_in_be(session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    """The form's days are typed as every other form's (dd/mm/yyyy, BE), not the browser's
    month-first Common Era date box."""
    unit = _entries(session)
    client: FlaskClient = login_as("approver")
    page = client.get("/audit/export").get_data(as_text=True)
    today = local_today()
    assert 'type="date"' not in page
    assert f'value="{today.day}/{today.month}/{today.year + 543}"' in page
    typed = f"{today.day}/{today.month}/{today.year + 543}"
    response = client.get(f"/audit/export?unit_id={unit.id}&from={typed}&to={typed}&format=csv")
    assert response.status_code == 200 and "project.update" in response.data.decode("utf-8-sig")


def test_the_export_is_refused_to_whom_no_trail_is_open(app: Flask, session: Session) -> None:
    """/audit/export opened for a school and for the evaluator with an empty unit menu, and
    ดาวน์โหลด CSV said "หน่วยงาน: ต้องกรอก" with no way forward: it is 403 for them, and no
    page of theirs links to it; the district's people still have it, linked from /budget."""
    for email in ("school@demo.tidtam.local", "evaluator@demo.tidtam.local"):
        client = app.test_client()
        login(client, email, DEMO_PASSWORDS[email])
        assert client.get("/audit/export").status_code == 403
        assert client.get("/audit/export?format=csv").status_code == 403
        for page in ("/", "/dashboard", "/evaluations", "/school"):
            assert "/audit/export" not in client.get(page).get_data(as_text=True)
    officer = app.test_client()
    login(officer, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    assert officer.get("/audit/export").status_code == 200
    assert 'href="/audit/export"' in officer.get("/budget").get_data(as_text=True)
