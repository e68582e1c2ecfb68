"""KPIs managed on their pages and through the API: created and changed by the owning unit's
officers, linked to projects, reported by hand each quarter with evidence, scored by
evaluators; unseen by a school and by another district's officer; exported as CSV and XLSX."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.core.thai import to_thai_digits
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import (
    Kpi,
    KpiEvidenceFile,
    KpiLevel,
    KpiQuarterResult,
    KpiType,
    MeasureKind,
)
from service.org.models import Role
from tests.api_support import headers_for
from tests.conftest import csrf_token, login
from tests.html_text import strings
from tests.project_data import make_district, make_user
from tests.test_i18n import PO, _english_patterns
from tests.test_thai_pages import raw_keys
from tests.work_data import PDF, demo_project, in_app_context, unit  # noqa: F401

NEW = {
    "fiscal_year_id": "",
    "code": "5023-7001",
    "name": "ร้อยละของโรงเรียนที่จัดกิจกรรมส่งเสริมการอ่าน",
    "definition": "โรงเรียนที่จัดกิจกรรม / โรงเรียนทั้งหมด",
    "unit_label": "ร้อยละ",
    "measure_kind": "percent",
    "target": "80",
    "kpi_type": "strategic",
    "level": "outcome",
    "owner_unit_id": "",
}


def _actions(session: Session, kpi: Kpi) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "kpi", AuditEntry.object_id == kpi.id)
            .order_by(AuditEntry.id)
        )
    )


def _create(client: FlaskClient, session: Session, **changes: str) -> Any:
    project = demo_project(session)
    data = {
        **NEW,
        "fiscal_year_id": str(project.fiscal_year_id),
        "owner_unit_id": str(unit(session, "50230000").id),
        **changes,
    }
    data["csrf_token"] = csrf_token(client, "/kpis/new")
    return client.post("/kpis/new", data=data)


def test_an_officer_manages_a_kpi_and_an_evaluator_scores_it(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    form = client.get("/kpis/new").get_data(as_text=True)
    assert "สำนักงานเขตบางขุนเทียน" in form  # the district above the officer's division
    refused = _create(client, session, target="-1", code="")
    assert refused.status_code == 422 and 'id="error-summary"' in refused.get_data(as_text=True)
    created = _create(client, session)
    assert created.status_code == 302
    kpi = session.scalars(select(Kpi).where(Kpi.code == NEW["code"])).one()
    assert kpi.owner_unit.code == "50230000" and str(kpi.target) == "80.0000"
    token = csrf_token(client, f"/kpis/{kpi.id}")
    edit = {k: v for k, v in NEW.items() if k != "fiscal_year_id"}
    edit.update(target="85", owner_unit_id=str(kpi.owner_unit_id), csrf_token=token)
    assert client.post(f"/kpis/{kpi.id}/edit", data=edit).status_code == 302
    project = demo_project(session)
    # typed on the Thai keyboard: the same code
    link = {"csrf_token": token, "project_code": to_thai_digits(project.code)}
    assert client.post(f"/kpis/{kpi.id}/projects", data=link).status_code == 302
    # A quarter's result with its evidence; a file that is not what it says is refused.
    report = {"csrf_token": token, "quarter": "2", "value": "40", "narrative": "จัดกิจกรรมแล้ว"}
    bad = client.post(
        f"/kpis/{kpi.id}/results",
        data={**report, "files": (io.BytesIO(b"not a pdf"), "หลักฐาน.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert not session.scalars(
        select(KpiQuarterResult).where(KpiQuarterResult.kpi_id == kpi.id)
    ).all()
    good = client.post(
        f"/kpis/{kpi.id}/results",
        data={**report, "files": (io.BytesIO(PDF), "หลักฐาน.pdf")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    session.expire_all()
    (result,) = kpi.results
    assert (result.quarter, str(result.value), result.narrative) == (2, "40.0000", "จัดกิจกรรมแล้ว")
    (evidence,) = result.current_evidence
    with client.get(f"/kpis/evidence/{evidence.id}") as download:
        assert download.data == PDF
    page = client.get(f"/kpis/{kpi.id}").get_data(as_text=True)
    assert project.code in page.split('id="kpi-projects"')[1] and "หลักฐาน.pdf" in page
    assert _actions(session, kpi) == [
        "kpi.create",
        "kpi.update",
        "kpi.link",
        "kpi.result",
        "kpi.evidence_upload",
    ]
    # The evaluator scores and publishes the quarter; its result is then frozen.
    client.post("/logout", data={"csrf_token": token})
    login_as("evaluator")
    queue = f"/evaluations?year={kpi.fiscal_year.be_year}&quarter=2&kind=kpi"
    assert f"/kpis/{kpi.id}" in client.get(queue).get_data(as_text=True)
    scored = client.post(
        "/evaluations/score",
        data={
            "csrf_token": csrf_token(client, queue),
            "subject_type": "kpi",
            "subject_id": str(kpi.id),
            "year": str(kpi.fiscal_year.be_year),
            "quarter": "2",
            "score": "75",
            "sub_score_1": "",
            "sub_score_2": "",
            "comment": "",
        },
    )
    assert scored.status_code == 302
    evaluation = session.scalars(select(Evaluation).where(Evaluation.kpi_id == kpi.id)).one()
    assert evaluation.state is EvaluationState.SCORED and str(evaluation.score) == "75.00"
    token = csrf_token(client, queue)
    client.post(f"/actions/evaluation/{evaluation.id}/publish", data={"csrf_token": token})
    client.post("/logout", data={"csrf_token": token})
    login_as("officer")
    token = csrf_token(client, f"/kpis/{kpi.id}")
    frozen = client.post(f"/kpis/{kpi.id}/results", data={**report, "csrf_token": token})
    assert frozen.status_code == 409


def test_a_computed_kpi_takes_no_hand_report(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    client = login_as("officer")
    page = client.get(f"/kpis/{kpi.id}").get_data(as_text=True)
    assert "/results" not in page and "คำนวณจากโครงการทุกไตรมาส" in page
    token = csrf_token(client, f"/kpis/{kpi.id}")
    posted = client.post(
        f"/kpis/{kpi.id}/results", data={"csrf_token": token, "quarter": "1", "value": "1"}
    )
    assert posted.status_code == 403


def test_a_school_and_another_districts_officer_see_nothing_of_it(
    client: FlaskClient, session: Session
) -> None:
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    _district, division, _school = make_district(session, "50240000")
    other, password = make_user(session, Role.OFFICER, division, "officer-b@test.tidtam.local")
    session.commit()
    login(client, other.email, password)
    assert client.get(f"/kpis/{kpi.id}").status_code == 404
    assert client.get(f"/kpis/{kpi.id}/edit").status_code == 404
    assert kpi.code not in client.get("/kpis?year=2566").get_data(as_text=True)
    assert kpi.code not in client.get("/kpis?year=2566&format=csv").get_data(as_text=True)
    # Its own district is offered as an owner; ours is refused.
    form = client.get("/kpis/new").get_data(as_text=True)
    assert "50240000" in form and "50230000" not in form
    data = {
        **NEW,
        "fiscal_year_id": str(kpi.fiscal_year_id),
        "owner_unit_id": str(kpi.owner_unit_id),
        "csrf_token": csrf_token(client, "/kpis/new"),
    }
    refused = client.post("/kpis/new", data=data)
    assert refused.status_code == 422 and "สำนักงานเขตบางขุนเทียน" not in refused.get_data(
        as_text=True
    )
    token = csrf_token(client, "/kpis/new")
    linked = client.post(
        f"/kpis/{kpi.id}/projects", data={"csrf_token": token, "project_code": "x"}
    )
    assert linked.status_code == 404
    client.post("/logout", data={"csrf_token": token})
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    listing = client.get("/kpis?year=2566&lang=en").get_data(as_text=True)
    assert kpi.code not in listing
    # an empty list says where the district's KPIs are read
    assert "shown on that project's page" in listing
    assert client.get(f"/kpis/{kpi.id}").status_code == 404


def test_the_api_manages_kpis_in_scope(client: FlaskClient, session: Session) -> None:
    project = demo_project(session)
    officer = headers_for(session, "officer")
    school = headers_for(session, "school_a")
    _district, division, _school = make_district(session, "50250000")
    other_user = make_user(session, Role.OFFICER, division, "officer-c@test.tidtam.local")[0]
    from service.api.auth import new_token

    other = {"Authorization": f"Bearer {new_token(session, other_user, 'test')[1]}"}
    session.commit()
    body = {
        "code": "5023-7002",
        "name": "จำนวนครูที่ผ่านการอบรม",
        "fiscal_year": project.fiscal_year.be_year,
        "owner_unit_id": project.owner_unit_id,
        "target": "30",
        "measure_kind": "count",
        "unit_label": "คน",
        "kpi_type": "routine",
        "level": "output",
    }
    refused = client.post("/api/v1/kpis", json=body, headers=other)
    assert refused.status_code == 422 and "บางขุนเทียน" not in refused.get_data(as_text=True)
    assert (
        client.post("/api/v1/kpis", json={**body, "target": 30.5}, headers=officer).status_code
        == 422
    )
    created = client.post("/api/v1/kpis", json=body, headers=officer)
    assert created.status_code == 201, created.get_json()
    ident = created.get_json()["id"]
    assert client.post("/api/v1/kpis", json=body, headers=officer).status_code == 409
    patched = client.patch(f"/api/v1/kpis/{ident}", json={"target": "35"}, headers=officer)
    assert patched.get_json()["target"] == "35.0000"
    linked = client.post(
        f"/api/v1/kpis/{ident}/projects", json={"project_id": project.id}, headers=officer
    )
    assert linked.get_json()["project_ids"] == [project.id]
    reported = client.put(
        f"/api/v1/kpis/{ident}/results/1",
        json={"value": "12", "narrative": "อบรมรุ่นแรก", "numerator": None, "denominator": None},
        headers=officer,
    )
    assert reported.status_code == 200 and reported.get_json()["results"][0]["value"] == "12.0000"
    attached = client.post(
        f"/api/v1/kpis/{ident}/results/1/evidence",
        data={"file": (io.BytesIO(PDF), "รายชื่อ.pdf")},
        content_type="multipart/form-data",
        headers=officer,
    )
    assert attached.status_code == 201, attached.get_json()
    refused = client.post(
        f"/api/v1/kpis/{ident}/results/1/evidence",
        data={"file": (io.BytesIO(b"MZ"), "x.pdf")},
        content_type="multipart/form-data",
        headers=officer,
    )
    assert refused.status_code == 422
    for outsider in (other, school):
        assert client.get(f"/api/v1/kpis/{ident}", headers=outsider).status_code == 404
        assert client.get("/api/v1/kpis", headers=outsider).get_json()["total"] == 0
        assert (
            client.put(
                f"/api/v1/kpis/{ident}/results/2", json={"value": "1"}, headers=outsider
            ).status_code
            == 404
        )
    detail = client.get(f"/api/v1/kpis/{ident}", headers=officer).get_json()
    (shown,) = detail["results"][0]["evidence"]
    assert shown["original_name"] == "รายชื่อ.pdf"
    withdraw = f"/api/v1/kpis/evidence/{shown['id']}/withdraw"
    assert client.post(withdraw, headers=other).status_code == 404
    assert client.post(withdraw, headers=officer).get_json()["withdrawn_at"]
    assert client.post(withdraw, headers=officer).status_code == 409
    detail = client.get(f"/api/v1/kpis/{ident}", headers=officer).get_json()
    assert detail["results"][0]["evidence"] == []
    trail = client.get(f"/api/v1/audit/kpi/{ident}", headers=officer).get_json()["items"]
    assert [e["action"] for e in trail] == [
        "kpi.create",
        "kpi.update",
        "kpi.link",
        "kpi.result",
        "kpi.evidence_upload",
        "kpi.evidence_withdraw",
    ]
    assert client.get(f"/api/v1/audit/kpi/{ident}", headers=other).status_code == 404
    assert session.scalars(select(KpiEvidenceFile)).all()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_kpi_list_exports(login_as, fmt: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    response = client.get(f"/kpis?year=2566&format={fmt}")
    assert response.status_code == 200
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.data)).active
        assert sheet is not None
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
    else:
        rows = [line.split(",") for line in response.get_data(as_text=True).splitlines()]
    assert rows[0][0].lstrip("\ufeff") == "รหัสตัวชี้วัด"
    assert any(row[0] == "5023-6525" for row in rows[1:])


def english_on(html: str) -> list[str]:
    """Raw keys and English strings of the catalog among the page's strings."""
    with PO.open("rb") as source:
        patterns = _english_patterns(read_po(source, locale="th"))
    found = []
    for text in strings(html):
        found += raw_keys(text)
        found += [msgid for msgid, pattern in patterns if pattern.search(text)]
    return found


def test_kpi_pages_in_thai_have_no_english(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    client = login_as("officer")
    for path in ("/kpis?year=2566", "/kpis/new", f"/kpis/{kpi.id}", f"/kpis/{kpi.id}/edit"):
        response = client.get(path + ("&" if "?" in path else "?") + "lang=th")
        assert response.status_code == 200, path
        assert not english_on(response.get_data(as_text=True)), path
    project = client.get(f"/projects/{demo_project(session).id}").get_data(as_text=True)
    assert "ตัวชี้วัดระดับผลผลิต" in project and "(output)" not in project


def test_a_school_sees_and_reports_the_kpis_its_own_unit_owns(
    client: FlaskClient, session: Session
) -> None:
    from service.kpis.operations import create_kpi
    from tests.work_data import user

    officer = user(session, "officer")
    year = demo_project(session).fiscal_year
    own, other = (
        create_kpi(
            session,
            officer,
            code=code,
            name=f"ตัวชี้วัดของ {school}",
            fiscal_year=year,
            owner_unit=unit(session, school),
            target=Decimal("80"),
        )
        for code, school in (("5023-9801", "5023077101"), ("5023-9802", "5023077102"))
    )
    session.commit()
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    header = home[home.index("<header") : home.index("</header>")]
    assert 'href="/kpis"' in header and "ตัวชี้วัด" in header  # the menu item
    listing = client.get(f"/kpis?year={year.be_year}").get_data(as_text=True)
    assert own.code in listing
    assert (
        other.code not in listing and "5023-6525" not in listing
    )  # another school's, the district's
    csv = client.get(f"/kpis?year={year.be_year}&format=csv").get_data(as_text=True)
    assert own.code in csv and other.code not in csv
    assert client.get(f"/kpis/{other.id}").status_code == 404
    page = client.get(f"/kpis/{own.id}").get_data(as_text=True)
    assert f'action="/kpis/{own.id}/results"' in page  # it reports its own
    assert f"/kpis/{own.id}/edit" not in page  # the officers manage it
    assert not [k for text in strings(page) for k in raw_keys(text)]
    token = csrf_token(client, f"/kpis/{own.id}")
    assert client.get(f"/kpis/{own.id}/edit").status_code in (403, 404)
    reported = client.post(
        f"/kpis/{own.id}/results",
        data={"csrf_token": token, "quarter": "1", "value": "75", "narrative": "ภาคเรียนที่ 1"},
    )
    assert reported.status_code == 302
    session.expire_all()
    assert [r.value for r in session.get(Kpi, own.id).results] == [Decimal("75")]  # type: ignore[union-attr]


def test_a_link_across_fiscal_years_can_be_undone(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """An import once linked a project to a KPI of another year by its code alone; the KPI's
    page offers to unlink it, and unlinking works."""
    project = demo_project(session)
    other_year = session.scalar(
        select(FiscalYear).where(FiscalYear.id != project.fiscal_year_id).order_by(FiscalYear.id)
    )
    assert other_year is not None
    kpi = Kpi(
        code="5023-9101",
        fiscal_year=other_year,
        name="ตัวชี้วัดปีอื่น",
        measure_kind=MeasureKind.PERCENT,
        target=Decimal(80),
        kpi_type=KpiType.ROUTINE,
        level=KpiLevel.OUTPUT,
        owner_unit=unit(session, "50230000"),
        projects=[project],
    )
    session.add(kpi)
    session.commit()
    client = login_as("officer")
    token = csrf_token(client, f"/kpis/{kpi.id}")
    unlinked = client.post(
        f"/kpis/{kpi.id}/projects",
        data={"csrf_token": token, "project_code": project.code, "unlink": "1"},
    )
    assert unlinked.status_code == 302
    session.expire_all()
    assert kpi.projects == [] and _actions(session, kpi) == ["kpi.unlink"]


def _hand_kpi(session: Session, code: str, kind: MeasureKind, unit_label: str) -> Kpi:
    from service.kpis.operations import create_kpi
    from tests.work_data import user

    return create_kpi(
        session,
        user(session, "officer"),
        code=code,
        name=f"ตัวชี้วัด {unit_label}",
        fiscal_year=demo_project(session).fiscal_year,
        owner_unit=unit(session, "50230000"),
        target=Decimal("80"),
        measure_kind=kind,
        unit_label=unit_label,
    )


def test_a_nonsense_result_is_refused_naming_every_problem(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    percent = _hand_kpi(session, "5023-9901", MeasureKind.PERCENT, "ร้อยละ")
    level = _hand_kpi(session, "5023-9902", MeasureKind.LEVEL, "ระดับ")
    session.commit()
    client = login_as("officer")
    token = csrf_token(client, f"/kpis/{percent.id}")
    nonsense = {
        "csrf_token": token,
        "quarter": "1",
        "value": "-5",
        "numerator": "3",
        "denominator": "0",
        "narrative": "ก" * 20000,
    }
    refused = client.post(f"/kpis/{percent.id}/results", data=nonsense)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    for problem in ("ร้อยละติดลบไม่ได้", "ต้องมากกว่า 0", "ไม่เกิน 5000"):
        assert problem in page, problem
    assert 'value="-5"' in page and 'value="3"' in page  # what was typed stays
    half = client.post(
        f"/kpis/{percent.id}/results",
        data={"csrf_token": token, "quarter": "1", "value": "50", "numerator": "3"},
    )
    assert half.status_code == 422
    assert "ระบุทั้งตัวตั้งและตัวหาร" in half.get_data(as_text=True)
    session.expire_all()
    assert not session.get(Kpi, percent.id).results  # type: ignore[union-attr]
    # A level, a count or a free-text unit is not held to a sign; a ratio still needs a count.
    below = {"csrf_token": token, "quarter": "1", "value": "-1", "narrative": "ก" * 5000}
    assert client.post(f"/kpis/{level.id}/results", data=below).status_code == 302
    fair = {
        "csrf_token": token,
        "quarter": "2",
        "value": "60",
        "numerator": "3",
        "denominator": "5",
    }
    assert client.post(f"/kpis/{percent.id}/results", data=fair).status_code == 302


def test_the_api_refuses_a_nonsense_result(client: FlaskClient, session: Session) -> None:
    percent = _hand_kpi(session, "5023-9903", MeasureKind.PERCENT, "ร้อยละ")
    officer = headers_for(session, "officer")
    session.commit()
    url = f"/api/v1/kpis/{percent.id}/results/1"
    thai = {**officer, "Accept-Language": "th"}
    long = client.put(url, json={"value": "5", "narrative": "ก" * 5001}, headers=thai)
    assert long.status_code == 422
    refused = client.put(
        url, json={"value": "-5", "numerator": "3", "denominator": "0"}, headers=thai
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "ร้อยละติดลบไม่ได้" in text and "ต้องมากกว่า 0" in text
    half = client.put(url, json={"value": "5", "denominator": "4"}, headers=thai)
    assert half.status_code == 422 and "ระบุทั้งตัวตั้งและตัวหาร" in half.get_data(as_text=True)
    assert (
        client.put(
            url, json={"value": "5", "numerator": "1", "denominator": "20"}, headers=officer
        ).status_code
        == 200
    )
