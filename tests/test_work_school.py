"""The school's screens: its steps, one result form with evidence files, and its money."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Installment
from service.org.models import Role
from service.org.operations import create_user, grant_role
from service.projects.models import EvidenceFile, ResultState
from tests.conftest import csrf_token, login
from tests.work_data import (
    JPG,
    PDF,
    PNG,
    in_app_context,  # noqa: F401
    office_file,
    school_allocation,
    school_result,
    sibling_project,
    unit,
)


def _submit(client: FlaskClient, result_id: int, files: list[tuple[bytes, str]], **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, f"/results/{result_id}")
    data = {
        "csrf_token": token,
        "completion": extra.get("completion", "80"),
        "narrative": extra.get("narrative", "อบรมครูครบทุกคน"),
        "files": [(io.BytesIO(content), name) for content, name in files],
    }
    headers = {"X-Requested-With": "XMLHttpRequest"} if extra.get("xhr") else {}
    return client.post(
        f"/results/{result_id}", data=data, content_type="multipart/form-data", headers=headers
    )


def test_home_sends_a_school_user_to_their_steps(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    response = client.get("/home")
    assert response.status_code == 302 and response.headers["Location"].endswith("/school")
    page = client.get("/school").get_data(as_text=True)
    result = school_result(session)
    # The demo's steps ended in FY 2566: the school's two steps are overdue.
    overdue = page.split('id="h-overdue"')[1].split("</section>")[0]
    assert f'data-result="{result.id}"' in overdue
    assert f'data-result="{school_result(session, position=4).id}"' in overdue
    # Another school's rows are not this school's work.
    other = school_result(session, "5023077102")
    assert f'data-result="{other.id}"' not in page


def test_district_user_keeps_the_general_home(login_as) -> None:  # type: ignore[no-untyped-def]
    assert login_as("officer").get("/home").status_code == 200


def test_submit_result_with_evidence_in_one_screen(login_as, session: Session, app: Flask) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert 'id="result-form"' in page and "js/upload.js" in page
    response = _submit(
        client,
        result.id,
        [(PDF, "รายงาน.pdf"), (PNG, "photo.png"), (JPG, "a.jpeg"), (office_file("docx"), "b.docx")],
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    session.expire_all()
    assert result.state is ResultState.SUBMITTED
    assert result.completion == Decimal("80.00")
    files = session.scalars(select(EvidenceFile).where(EvidenceFile.result_id == result.id)).all()
    assert sorted(f.original_name for f in files) == ["a.jpeg", "b.docx", "photo.png", "รายงาน.pdf"]
    folder = Path(app.config["UPLOAD_FOLDER"])
    static = Path(app.static_folder or "")
    assert not folder.resolve().is_relative_to(static.resolve())
    for row in files:
        assert re.fullmatch(r"[0-9a-f]{48}", row.stored_name)
        assert (folder / row.stored_name).is_file()
    assert len({f.stored_name for f in files}) == 4
    # The flash after the redirect says so.
    assert 'class="flash info"' in client.get(f"/results/{result.id}").get_data(as_text=True)


def test_the_upload_script_gets_json(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    response = _submit(client, result.id, [(office_file("xlsx"), "sheet.xlsx")], xhr="1")
    assert response.status_code == 200
    assert response.json == {"location": f"/results/{result.id}"}
    # Waiting for review, it cannot be submitted again: 409 with the reason, for the script.
    again = _submit(client, result.id, [], xhr="1")
    assert (
        again.status_code == 409
        and again.json is not None
        and "ส่งตรวจสอบแล้ว" in again.json["error"]
    )
    other = school_result(session, position=4)
    refused = _submit(client, other.id, [], completion="150", xhr="1")
    assert refused.status_code == 422
    assert refused.json is not None and "completion" in refused.json["fields"]
    # A refused file: the script shows `fields`, so the field's message says why, not only
    # which file (it said "evil.exe" and nothing more).
    bad = _submit(client, other.id, [(b"MZ", "evil.exe")], xhr="1")
    assert bad.status_code == 422 and bad.json is not None
    assert "evil.exe" in bad.json["fields"]["files"] and "PDF" in bad.json["fields"]["files"]


def test_a_result_sent_again_shows_why_it_was_returned_as_a_note(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """Returned, the reason is the page's red message; sent again, it stays as a note of
    what was asked, not as a problem still to fix."""
    client = login_as("school")
    result = school_result(session, position=4)
    result.state, result.review_reason = ResultState.RETURNED, "แนบรูปกิจกรรมด้วย"
    result.submitted_at = result.reviewed_at = datetime.now(UTC)
    session.commit()
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert '<dd class="field-error">แนบรูปกิจกรรมด้วย</dd>' in page
    assert _submit(client, result.id, [(PNG, "photo.png")]).status_code == 302
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert '<dd class="muted">แนบรูปกิจกรรมด้วย</dd>' in page
    assert '<dd class="field-error">แนบรูปกิจกรรมด้วย' not in page


def test_content_not_matching_its_extension_is_refused_and_input_kept(
    login_as, session: Session, app: Flask
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    folder = Path(app.config["UPLOAD_FOLDER"])
    before = set(folder.iterdir()) if folder.exists() else set()
    response = _submit(
        client, result.id, [(PDF, "ok.pdf"), (PNG, "fake.pdf")], narrative="ข้อความที่พิมพ์ไว้"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "ข้อความที่พิมพ์ไว้" in page and "fake.pdf" in page
    session.expire_all()
    assert result.state is ResultState.NOT_STARTED
    assert (
        session.scalars(select(EvidenceFile).where(EvidenceFile.result_id == result.id)).all() == []
    )
    # All or nothing: the good file written before the bad one is gone too.
    assert (set(folder.iterdir()) if folder.exists() else set()) == before


def test_unaccepted_extension_and_empty_file_are_refused(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    assert _submit(client, result.id, [(b"MZ\x90\x00", "tool.exe")]).status_code == 422
    assert _submit(client, result.id, [(b"", "empty.pdf")]).status_code == 422
    zip_only = office_file("docx").replace(b"word/document.xml", b"other/documen.xml")
    assert _submit(client, result.id, [(zip_only, "not-word.docx")]).status_code == 422


def test_uploads_over_the_size_limit_are_refused(login_as, session: Session, app: Flask) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    token = csrf_token(client, f"/results/{result.id}")
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        response = client.post(
            f"/results/{result.id}",
            data={
                "csrf_token": token,
                "completion": "50",
                "narrative": "x",
                "files": [(io.BytesIO(PDF + b"0" * 8192), "big.pdf")],
            },
            content_type="multipart/form-data",
            headers={"Referer": f"http://localhost/results/{result.id}"},
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "ไฟล์ที่อัปโหลดมีขนาดใหญ่เกินกำหนด" in page
    # A way back to the form, not only to the start.
    assert f'href="http://localhost/results/{result.id}"' in page
    session.expire_all()
    assert result.state is ResultState.NOT_STARTED


def test_evidence_downloads_as_an_attachment_to_those_who_may_see_it(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    login_as("school")
    result = school_result(session)
    assert _submit(client, result.id, [(PDF, "report.pdf")]).status_code == 302
    evidence = session.scalars(
        select(EvidenceFile).where(EvidenceFile.result_id == result.id)
    ).one()
    response = client.get(f"/evidence/{evidence.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "report.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == PDF
    response.close()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/school")})

    # The district reviewing it may download it too.
    login_as("officer")
    response = client.get(f"/evidence/{evidence.id}")
    assert response.status_code == 200
    response.close()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/review")})

    # Another school may not: for it, neither the file nor the result exists.
    other = create_user(
        session, email="kok@demo.tidtam.local", name="ครูโรงเรียนวัดกก", password="kok-school-2566"
    )
    grant_role(session, other, Role.SCHOOL, unit(session, "5023077103"))
    session.commit()
    login(client, "kok@demo.tidtam.local", "kok-school-2566")
    assert client.get(f"/evidence/{evidence.id}").status_code == 404
    assert client.get(f"/results/{result.id}").status_code == 404
    assert client.get("/evidence/999999").status_code == 404


def test_a_user_who_may_not_report_sees_the_reason_and_is_refused(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    result = school_result(session)
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert 'id="result-form"' not in page
    assert "รายงานผลนี้" in page  # the engine's reason, shown muted, in Thai
    token = csrf_token(client, "/evaluations")
    response = client.post(
        f"/results/{result.id}",
        data={"csrf_token": token, "completion": "10", "narrative": "x"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def test_post_without_csrf_token_is_refused(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session)
    response = client.post(f"/results/{result.id}", data={"completion": "10", "narrative": "x"})
    assert response.status_code == 400


def test_an_allocations_project_code_links_to_the_project_the_school_sees(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """The allocations showed each project's code as plain text, where every other project
    code links to its page; a project the school takes no part in, whose page it may not
    open, keeps its code unlinked."""
    allocation = school_allocation(session)
    unseen = sibling_project(session, allocation.project, "50230000-9001")
    elsewhere = school_allocation(session)
    elsewhere.project = unseen
    session.commit()
    page = login_as("school").get("/school").get_data(as_text=True)

    def heading(allocation_id: int) -> str:
        return page.split(f'data-allocation="{allocation_id}"')[1].split("</h3>")[0]

    project = allocation.project
    assert f'<a href="/projects/{project.id}" data-project="{project.id}">{project.code}</a>' in (
        heading(allocation.id)
    )
    assert unseen.code in heading(elsewhere.id) and "<a " not in heading(elsewhere.id)


def test_school_requests_an_installment_of_its_allocation(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    allocation = school_allocation(session)
    client = login_as("school")
    page = client.get("/school").get_data(as_text=True)
    assert f'data-allocation="{allocation.id}"' in page and "สามหมื่นบาทถ้วน" in page
    token = csrf_token(client, "/school")
    response = client.post(
        f"/allocations/{allocation.id}/installments",
        data={"csrf_token": token, "amount": "12,000", "purpose": "งวดที่ 1"},
    )
    assert response.status_code == 302
    installment = session.scalars(
        select(Installment).where(Installment.allocation_id == allocation.id)
    ).one()
    assert installment.amount == Decimal("12000.00")
    refused = client.post(
        f"/allocations/{allocation.id}/installments",
        data={"csrf_token": token, "amount": "-5", "purpose": "ผิด"},
    )
    assert refused.status_code == 422
    assert 'value="-5"' in refused.get_data(as_text=True)


def test_sections_show_their_first_rows_and_the_next_by_key(
    login_as, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A long section links Next (its rows after the last shown, by key); the page read so
    shows those rows and links back to the first; the other sections stay at their start."""
    from service.school import queries

    client = login_as("officer")  # the division's results: several in each of some sections
    counts = {
        section: int(count)
        for section, count in re.findall(
            r'id="(\w+)">\s*<h2[^>]*>[^<]*<span class="badge[^"]*">(\d+)</span>',
            client.get("/school").get_data(as_text=True),
        )
    }
    section, total = max(counts.items(), key=lambda item: item[1])
    assert total >= 2, counts
    monkeypatch.setattr(queries, "FIRST_ROWS", 1)
    monkeypatch.setattr(queries, "SECTION_ROWS", 1)
    seen: list[str] = []
    url = "/school"
    while True:
        page = client.get(url).get_data(as_text=True)
        part = page.split(f'id="{section}">')[1].split("</section>")[0]
        shown = re.findall(r'data-result="(\d+)"', part)
        assert len(shown) == 1, part
        seen += shown
        if url != "/school":
            assert 'href="/school#' + section + '"' in part  # back to the first rows
        found = re.search(rf'href="(/school\?section={section}&amp;after=[^"#]+)#{section}"', part)
        if found is None:
            break
        url = found.group(1).replace("&amp;", "&")
    assert len(seen) == total and len(set(seen)) == total
    # A cursor that does not fit shows the first rows, not an error.
    page = client.get(f"/school?section={section}&after=not-a-cursor")
    assert page.status_code == 200


def test_the_home_shows_a_few_rows_a_section_and_a_section_walked_more(  # type: ignore[no-untyped-def]
    login_as, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The home shows FIRST_ROWS of each section (what to do next, on a phone); its Next, and
    the section asked for alone, show SECTION_ROWS a page."""
    from service.school import queries

    monkeypatch.setattr(queries, "FIRST_ROWS", 1)
    monkeypatch.setattr(queries, "SECTION_ROWS", 3)
    client = login_as("officer")
    home = client.get("/school").get_data(as_text=True)

    def rows(page: str, section: str) -> list[str]:
        part = page.split(f'id="{section}">')[1].split("</section>")[0]
        return re.findall(r'data-result="(\d+)"', part)

    counts = {
        section: int(count)
        for section, count in re.findall(
            r'id="(\w+)">\s*<h2[^>]*>[^<]*<span class="badge[^"]*">(\d+)</span>', home
        )
    }
    section, total = max(counts.items(), key=lambda item: item[1])
    assert total >= 2, counts
    assert all(len(rows(home, name)) == min(1, count) for name, count in counts.items())
    found = re.search(rf'href="(/school\?section={section}&amp;after=[^"#]+)#{section}"', home)
    assert found is not None
    after = client.get(found.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(rows(after, section)) == min(3, total - 1)
    assert rows(after, section)[0] not in rows(home, section)
    alone = client.get(f"/school?section={section}").get_data(as_text=True)
    assert len(rows(alone, section)) == min(3, total)
    assert rows(alone, section)[0] == rows(home, section)[0]


@pytest.mark.parametrize("email", ["officer@demo.tidtam.local", "approver@demo.tidtam.local"])
def test_reading_unit_by_unit_shows_the_same_sections(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch, email: str
) -> None:
    """A reader of several units gets each section unit by unit on PostgreSQL (a LATERAL
    per unit): the same rows, the same order and the same cursors as one walk in the
    section's order, first rows and rows after a cursor alike (on SQLite both are the walk)."""
    from service.core.fiscal import local_today
    from service.org.models import OrgUnit, User
    from service.org.scope import unit_ids_in_scope
    from service.school import queries
    from tests.project_data import StepSpec, make_project

    user = session.scalars(select(User).where(User.email == email)).one()
    with app.test_request_context():
        units = unit_ids_in_scope(session, user)
        assert units is not None and len(units) > 1
        # Two of the reader's units with seven results each, accepted and not, their planned
        # ends in the opposite order of their ids (a walk by id reads other rows first).
        two = [session.get(OrgUnit, ident) for ident in units[-2:]]
        ends = ["2023-09-20", "2023-08-20", "2023-07-20", "2023-06-20", "2023-05-20", "2023-04-20"]
        make_project(
            session,
            owner=two[0],
            steps=[
                StepSpec("10", "2022-10-01", end, [None if i % 2 else "100"] * 2, two)
                for i, end in enumerate([*ends, "2023-03-20"])
            ],
        )
        session.flush()
        monkeypatch.setattr(queries, "FIRST_ROWS", 1)
        monkeypatch.setattr(queries, "SECTION_ROWS", 1)
        today = local_today()

        def walked(walked_one_by_one: int) -> dict[str, list[int]]:
            """Each section's rows, page after page by its cursor, and the counts."""
            monkeypatch.setattr(queries, "UNITS_WALKED_ONE_BY_ONE", walked_one_by_one)
            first = queries.my_steps(session, user, today)
            rows: dict[str, list[int]] = {"counts": [first.counts[n] for n in queries.SECTIONS]}
            for name in queries.SECTIONS:
                found = first
                rows[name] = [r.id for r in getattr(found, name)]
                while name in found.next_after:
                    after = found.next_after[name]
                    found = queries.my_steps(session, user, today, section=name, after=after)
                    rows[name] += [r.id for r in getattr(found, name)]
            return rows

        one_by_one = walked(500)
        assert one_by_one == walked(0)
        assert len(one_by_one["overdue"]) > 6 and len(one_by_one["done"]) > 8, one_by_one


def test_the_project_page_offers_to_report_only_what_can_be_reported(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    """A result sent for review is linked to be seen, not "reported" again."""
    client = login_as("school")
    result = school_result(session, position=4)
    project_id = result.step.project_id

    def link_text() -> str:
        page = client.get(f"/projects/{project_id}?lang=en").get_data(as_text=True)
        found = re.search(rf'<a href="/results/{result.id}">([^<]+)</a>', page)
        assert found is not None
        return found.group(1)

    assert link_text() == "Report the result"
    assert _submit(client, result.id, [(PNG, "photo.png")]).status_code == 302
    assert link_text() == "See what was reported"
