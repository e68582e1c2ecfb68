"""The project page: every value of the legacy page (read from the legacy text itself), in the
legacy order, plus what Tidtam adds; user text shown as text; scope enforced."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.core.charts import s_curve_chart
from service.core.thai import format_be_date, to_thai_digits
from service.legacy.parser import ParsedPage, parse_text
from service.org.models import Role
from service.projects.models import Project
from service.projects.page import build_project_page, time_in_states
from tests.conftest import LEGACY_PAGE, csrf_token, login
from tests.html_text import visible_text
from tests.project_data import StepSpec, make_project, make_user, unit

LEGACY_TEXT = LEGACY_PAGE.read_text(encoding="utf-8")
LEGACY_LINES = [line.strip() for line in LEGACY_TEXT.splitlines()]


@pytest.fixture(scope="module")
def legacy() -> ParsedPage:
    parsed = parse_text(LEGACY_TEXT)
    assert parsed.status == "complete", parsed.errors
    return parsed


@pytest.fixture
def project(session: Session, legacy: ParsedPage) -> Project:
    found = session.scalar(select(Project).where(Project.code == legacy.code))
    assert found is not None
    return found


def be(iso: str) -> str:
    """A legacy ISO date as the Thai page shows it: 30 ธ.ค. 2565."""
    return format_be_date(date.fromisoformat(iso))


def thai_page(client: FlaskClient, path: str) -> str:
    response = client.get(path + ("&" if "?" in path else "?") + "lang=th")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def legacy_values_in_order(legacy: ParsedPage) -> list[str]:
    """Every value of the legacy page, as the Thai page writes it, in the legacy page's order."""
    assert legacy.evaluation and legacy.progress
    values = [
        f"{legacy.name} : {legacy.code}",
        f"{legacy.agency} : ({legacy.fiscal_year})",
        # the legacy page prints "ความคืบหน้าโครงการ ร้อยละ 20" under its chart
        f"ความคืบหน้าโครงการ ร้อยละ {Decimal(legacy.progress).normalize():f}",
        legacy.division or "",
        "พิมพ์ข้อมูล",
        f"สยป. ประเมินโครงการ : ไตรมาสที่ {legacy.evaluation.quarter} {legacy.evaluation.score}",
        "หลักการและเหตุผล",
        legacy.rationale or "",
        "/".join(legacy.unit_codes),
        "วัตถุประสงค์ของโครงการ",
    ]
    values += [f"{o.number} {o.text}" for o in legacy.objectives]
    values.append("เป้าหมายของโครงการ")
    kinds = {"quantity": "ด้านปริมาณ", "quality": "ด้านคุณภาพ"}
    seen: list[str] = []
    for target in legacy.targets:
        assert target.kind
        if target.kind not in seen:
            seen.append(target.kind)
            values.append(f"3.{len(seen)} {kinds[target.kind]}")
        values.append(target.text)
    values.append("สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ")
    for strategy in legacy.strategies:
        code = to_thai_digits(strategy.code)
        values.append(f"ยุทธศาสตร์ที่ {code}" if strategy.level == 1 else code)
        values.append(strategy.name)
    values.append("ผลการดำเนินงาน")
    for report in legacy.reports:
        assert report.date
        values += [
            f"({report.number}) ความคืบหน้าโครงการฯ ร้อยละ {report.percent} ({be(report.date)})",
            f"{report.percent}",
            f"{be(report.date)} : {report.narrative}",
            f"ปัญหาของโครงการ : {report.problems}",
            f"อุปสรรคของโครงการ : {report.obstacles}",
        ]
    values.append("แผนการดำเนินงานฯ")
    for step in legacy.steps:
        assert step.start and step.end
        values += [
            f"ขั้นตอน {step.order}",
            # The old site's ":name", ":20%" and "เริ่มต้น :date", each value named instead
            # of its colons beginning the lines on a phone.
            step.name,
            f"น้ำหนัก {step.weight}%",
            f"เริ่มต้น {be(step.start)}",
            f"สิ้นสุด {be(step.end)}",
        ]
    values.append("สนับสนุนตัวชี้วัดตามแผนฯ")
    for kpi in legacy.kpis:
        assert kpi.type == "routine" and kpi.level == "output"
        values += [
            f"รายละเอียดเกี่ยวกับตัวชี้วัด : {kpi.code}",
            f"ตัวชี้วัด {kpi.name}",
            f"ค่าเป้าหมาย {kpi.unit} {kpi.target}",
            # blank on the legacy page while every quarter reads 0.00 over 0 / 0: nothing
            # was achieved yet, not an achievement of zero
            f"ผลงานที่ทำได้ {kpi.unit} {kpi.achieved or '—'}",
            "ประเภทตัวชี้วัด ตัวชี้วัดงานประจำ",
            # The legacy page adds the raw key, "(output)"; ours names the level in Thai only.
            "ตัวชี้วัดระดับผลผลิต",
            f"ไตรมาสที่ (1 - 4) ผลงาน ({kpi.unit}) ผลประเมินตัวชี้วัด (2.1 / 2.2)",
        ]
        values += [f"{q.quarter} {q.result} {q.numerator} / {q.denominator}" for q in kpi.quarters]
    values.append("ผลการประเมินโครงการ (รายไตรมาส)")
    return values


def test_every_legacy_value_is_on_the_page_in_the_legacy_order(
    login_as, project: Project, legacy: ParsedPage
) -> None:  # type: ignore[no-untyped-def]
    text = visible_text(thai_page(login_as("officer"), f"/projects/{project.id}"))
    position = 0
    for value in legacy_values_in_order(legacy):
        assert value, "the legacy page lost a value"
        found = text.find(value, position)
        assert found >= 0, (
            f"{value!r} is missing after position {position}: {text[position : position + 300]!r}"
        )
        position = found + len(value)


def test_the_legacy_headings_themselves_appear(login_as, project: Project) -> None:  # type: ignore[no-untyped-def]
    text = visible_text(thai_page(login_as("officer"), f"/projects/{project.id}"))
    headings = [
        "ความคืบหน้าโครงการ/กิจกรรม",
        "หลักการและเหตุผล",
        "วัตถุประสงค์ของโครงการ",
        "เป้าหมายของโครงการ",
        "สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ",
        "ผลการดำเนินงาน",
        "แผนการดำเนินงานฯ",
        "สนับสนุนตัวชี้วัดตามแผนฯ",
    ]
    for heading in headings:
        assert heading in LEGACY_LINES
        assert heading in text


def test_progress_is_derived_and_the_40_point_gap_of_30_dec_2565_is_flagged(
    login_as, project: Project
) -> None:  # type: ignore[no-untyped-def]
    text = visible_text(thai_page(login_as("officer"), f"/projects/{project.id}"))
    # Today every step is past its end: the plan says 100, accepted results give 20.
    assert "ล่าช้ากว่าแผน: ต่ำกว่าแผน 80.00 จุด (แผน 100.00, ผลจริง 20.00)" in text
    # On the day of the legacy report, steps 1-3 (60 %) were due and 20 % was reported.
    assert "ณ วันนั้นแผนกำหนดไว้ร้อยละ 60.00 รายงานว่าร้อยละ 20.00: ล่าช้ากว่าแผน 40.00 จุด" in text


def test_english_page_has_ce_dates_and_arabic_digits(login_as, project: Project) -> None:  # type: ignore[no-untyped-def]
    body = login_as("officer").get(f"/projects/{project.id}?lang=en").get_data(as_text=True)
    text = visible_text(body)
    assert 'lang="en"' in body
    assert "(1) Project progress 20.00 percent (30 Dec 2022)" in text
    assert "Start 1 Oct 2022" in text
    assert "Strategy 7 – " in text and "7.2.2.2 " in text
    assert "Evaluated by SYP: quarter 2 100" in text


def test_page_adds_gauge_s_curve_timeline_budget_evaluations_and_time_in_states(
    login_as, project: Project
) -> None:  # type: ignore[no-untyped-def]
    body = thai_page(login_as("officer"), f"/projects/{project.id}")
    text = visible_text(body)
    assert body.count('class="gauge"') == 1
    # S-curve, timeline and the disbursement curve
    assert body.count('class="chart chart-wide"') == 3
    assert 'role="img"' in body and "aria-labelledby=" in body
    # the S-curve's text alternative: month ends with plan and actual
    assert "31 ธ.ค. 2565 60.00 20.00" in text
    # budget chain: approved → allocated → installments granted → paid
    assert "อนุมัติแล้ว 180,000.00 จัดสรรแล้ว 180,000.00 เงินประจำงวดที่อนุมัติ 180,000.00 จ่ายแล้ว 0.00" in text
    assert "เก้าหมื่นบาทถ้วน" in text
    # evaluation history with the evaluator (signed-in view)
    assert "นางสาวประไพ ประเมิน" in text
    # time in each state, from the audit rows
    assert "ระยะเวลาในแต่ละสถานะ" in text and "ล็อกแผนแล้ว" in text


def test_no_inline_style_or_script_in_the_page(login_as, project: Project) -> None:  # type: ignore[no-untyped-def]
    body = thai_page(login_as("officer"), f"/projects/{project.id}")
    assert " style=" not in body and "<style" not in body
    # Scripts come from files (the thread's "Tell people" list): none is written inline.
    assert re.findall(r"<script[^>]*>", body) == [
        f'<script src="{src}" defer>' for src in re.findall(r'<script src="([^"]+)"', body)
    ]


def test_xss_in_a_project_name_renders_as_text(
    client: FlaskClient, session: Session, project: Project
) -> None:
    payload = "<script>alert(1)</script>"
    project.name = payload
    project.rationale = '"><img src=x onerror=alert(2)>'
    session.flush()
    login(client, "officer@demo.tidtam.local", "demo-officer-2566")
    for path in (
        f"/projects/{project.id}",
        f"/projects/{project.id}/print",
        f"/public/projects/{project.id}",
        "/dashboard?year=2566",
        "/public/projects?year=2566",
    ):
        body = client.get(path).get_data(as_text=True)
        assert payload not in body, path
        assert "<img src=x" not in body, path
    body = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_school_cannot_reach_another_schools_project(
    client: FlaskClient, session: Session
) -> None:
    other_school = unit(session, "5023077201")
    other_project = make_project(
        session,
        owner=other_school,
        steps=[StepSpec("100", "2022-10-01", "2023-09-30", ["50"], [other_school])],
    )
    _user, password = make_user(session, Role.SCHOOL, other_school, "school2@test.tidtam.local")
    session.flush()
    paths = [
        f"/projects/{other_project.id}",
        f"/projects/{other_project.id}/print",
        f"/projects/{other_project.id}.pdf",
        f"/projects/{other_project.id}/history",
    ]
    login(client, "school2@test.tidtam.local", password)
    assert client.get(paths[0]).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/public/projects")})
    login(client, "school@demo.tidtam.local", "demo-school-2566")
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert other_project.name not in response.get_data(as_text=True)


def test_the_page_shows_the_projects_states_and_links_to_the_whole_history(
    login_as, project: Project
) -> None:  # type: ignore[no-untyped-def]
    officer = login_as("officer")
    page = thai_page(officer, f"/projects/{project.id}")
    # the project's own states here; its results' and the audit trail on the history page
    result_trail = "การประเมินผล · ไตรมาสที่"  # an evaluation's row in the history
    assert "ล็อกแผนแล้ว" in visible_text(page) and result_trail not in visible_text(page)
    assert f'href="/projects/{project.id}/history"' in page
    assert "ประวัติการแก้ไข (" in visible_text(page)
    history = thai_page(officer, f"/projects/{project.id}/history")
    text = visible_text(history)
    assert "ระยะเวลาในแต่ละสถานะ" in text and "ล็อกแผนแล้ว" in text and result_trail in text
    assert "โหลดข้อมูลตัวอย่าง" in text  # the audit trail (its action by name), signed in
    # the print view keeps everything
    assert result_trail in visible_text(thai_page(officer, f"/projects/{project.id}/print"))


def test_project_pages_need_login(client: FlaskClient, project: Project) -> None:
    for path in (
        f"/projects/{project.id}",
        f"/projects/{project.id}/print",
        f"/projects/{project.id}/history",
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_security_headers_on_the_project_page(login_as, project: Project) -> None:  # type: ignore[no-untyped-def]
    response = login_as("officer").get(f"/projects/{project.id}")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_project_is_404(login_as) -> None:  # type: ignore[no-untyped-def]
    assert login_as("evaluator").get("/projects/987654").status_code == 404


# -- the pieces, without HTTP ---------------------------------------------------------------


def _entry(object_id: int, to_state: str | None, at: datetime) -> AuditEntry:
    return AuditEntry(
        action="x", object_type="allocation", object_id=object_id, to_state=to_state, occurred_at=at
    )


def test_time_in_states_runs_from_change_to_change_and_to_now() -> None:
    t0 = datetime(2023, 1, 1, 3, tzinfo=UTC)
    entries = [
        _entry(1, "submitted", t0),
        _entry(1, None, t0 + timedelta(hours=1)),  # a note, not a state change
        _entry(2, "draft", t0),
        _entry(1, "approved", t0 + timedelta(days=2, hours=4)),
        _entry(1, "approved", t0 + timedelta(days=3)),  # a part payment: still approved
    ]
    now = t0 + timedelta(days=10)
    spans = time_in_states(entries, now)
    first, second = spans[("allocation", 1)]
    assert (first.entry.to_state, first.duration) == ("submitted", timedelta(days=2, hours=4))
    assert second.left_at is None and second.duration == now - (t0 + timedelta(days=2, hours=4))
    assert spans[("allocation", 2)][0].duration == timedelta(days=10)


def test_partial_results_and_the_curve_agree_with_the_page_figures(session: Session) -> None:
    division = unit(session, "50230700")
    schools = [unit(session, code) for code in ("5023077101", "5023077102", "5023077103")]
    project = make_project(
        session,
        owner=division,
        steps=[
            StepSpec("30", "2022-10-01", "2022-10-31", ["100"]),
            StepSpec("50", "2022-11-01", "2023-02-28", ["100", "50", None], schools),
            StepSpec("20", "2023-03-01", "2023-09-30", []),
        ],
    )
    page = build_project_page(session, project, date(2023, 1, 15), datetime.now(UTC))
    # 30 + 50 × (100 + 50 + 0) / 3 / 100 = 55
    assert page.actual == Decimal("55.00")
    # step 2 runs 120 days; by 15 Jan 2023, 76 of them: 30 + 50 × 76 / 120 = 61.67
    assert page.planned == Decimal("61.67")
    assert not page.behind
    assert [row.status for row in page.steps] == ["done", "partly", "planned"]
    chart = s_curve_chart(
        [row.plan for row in page.steps],
        page.progress_events,
        [],
        (date(2022, 10, 1), date(2023, 9, 30)),
        date(2023, 3, 1),  # drawn later: February's end is past
        "th",
    )
    by_day = {point.day: point for point in chart.table}
    assert by_day[date(2022, 10, 31)].actual == Decimal("30.00")
    assert by_day[date(2023, 2, 28)].actual == Decimal("55.00")
    assert by_day[date(2023, 9, 30)].planned == Decimal("100.00")
