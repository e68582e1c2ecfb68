"""The A4 print view and its PDF: Thai font, amounts in figures and in words, offline."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.pdf import BASE_URL, RefusedURL
from service.projects.models import Project
from tests.html_text import visible_text

ROOT = Path(__file__).resolve().parent.parent
# Families of Debian's fonts-thai-tlwg / fonts-noto-core / TH Sarabun that carry Thai glyphs.
THAI_FONTS = re.compile(
    rb"/FontName\s*/[A-Z]{6}\+(Laksaman|Garuda|Loma|Kinnari|Norasi|Sawasdee|Umpush|Waree|"
    rb"Purisa|TlwgTypo|TlwgMono|Tlwg|NotoSansThai|NotoSerifThai|THSarabun|Sarabun|Tidtam-Thai)"
)


def demo(session: Session) -> Project:
    found = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert found is not None
    return found


def test_print_view_is_a4_with_a_thai_font_and_amounts_in_words(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    response = client.get(f"/projects/{demo(session).id}/print")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert re.search(r'href="/static/print\.css\?v=[0-9a-f]{12}"', body)  # versioned
    assert 'class="print"' in body
    text = visible_text(body)
    assert "180,000.00 (หนึ่งแสนแปดหมื่นบาทถ้วน)" in text  # approved
    assert "0.00 (ศูนย์บาทถ้วน)" in text  # paid
    assert "90,000.00 เก้าหมื่นบาทถ้วน" in text  # each network's allocation
    assert "พิมพ์ข้อมูล" not in text  # no links to itself
    # a way back on screen (a phone has no other); the public view leads to the public page
    assert f'href="/projects/{demo(session).id}">กลับไปหน้าโครงการ</a>' in body
    public = client.get(f"/public/projects/{demo(session).id}/print").get_data(as_text=True)
    assert f'href="/public/projects/{demo(session).id}">กลับไปหน้าโครงการ</a>' in public
    # the English reader reads the amounts in English words
    english = visible_text(
        client.get(f"/projects/{demo(session).id}/print?lang=en").get_data(as_text=True)
    )
    assert "180,000.00 (One hundred eighty thousand baht only)" in english
    assert "บาท" not in english.split("180,000.00", 1)[1][:40]
    css = (ROOT / "static" / "print.css").read_text()
    assert re.search(r"@page\s*{[^}]*size:\s*A4", css)
    assert "Laksaman" in css and "TH Sarabun" not in css.split("*/", 1)[1]


def test_print_css_is_served(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/static/print.css")
    assert response.status_code == 200 and b"@page" in response.data
    response.close()


def _weasyprint_or_skip() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: Pango missing
        pytest.skip(f"WeasyPrint cannot be imported here ({error}); the PDF is not tested")


def test_pdf_download_holds_thai_text(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    _weasyprint_or_skip()
    project = demo(session)
    response = login_as("officer").get(f"/projects/{project.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert f'filename="project-{project.code}.pdf"' in response.headers["Content-Disposition"]
    pdf = response.data
    assert pdf.startswith(b"%PDF-")
    assert THAI_FONTS.search(_inflated(pdf)), "no Thai font embedded: install fonts-thai-tlwg"
    # The print CSS's own @font-face, not a family fontconfig had to find (or synthesize).
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+Tidtam-Thai", _inflated(pdf)), (
        "static/fonts/Laksaman.ttf did not load: install fonts-tlwg-laksaman-ttf"
    )
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode("utf-8")
        # Words without ำ or stacked marks, which extraction from some Thai fonts reorders.
        for expected in (
            project.code,
            "ค่าใช้จ่ายในการพัฒนาคุณภาพเครือข่ายโรงเรียน",
            "หลักการและเหตุผล",
            "สนับสนุนยุทธศาสตร์กรุงเทพมหานคร",
        ):
            assert expected in text.replace("\n", " "), expected


def _inflated(pdf: bytes) -> bytes:
    """The PDF with its compressed streams (object streams hold the font names) inflated."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        end = pdf.find(b"endstream", match.end())
        try:
            parts.append(zlib.decompress(pdf[match.end() : end]))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_pdf_is_scoped_like_the_page(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    assert login_as("school").get("/projects/987654.pdf").status_code == 404


def test_print_views_load_static_files_only(app: Flask) -> None:
    _weasyprint_or_skip()
    from service.core.pdf import static_fetcher

    fetch = static_fetcher(app.static_folder or "static")
    response = fetch(BASE_URL + "static/print.css")
    assert b"@page" in response.read()
    response.close()
    for url in (
        "http://127.0.0.1:9/",
        "file:///etc/passwd",
        BASE_URL + "static/../service/config.py",
        "http://evil.example/static/print.css",
    ):
        with pytest.raises(RefusedURL):
            fetch(url)


def test_print_fonts_are_the_installed_thai_fonts_only(app: Flask, tmp_path: Path) -> None:
    """static/fonts/ links to Debian's Laksaman; a link may leave the static folder only for a
    font file under the system's font folders."""
    _weasyprint_or_skip()
    from service.core.pdf import static_fetcher

    laksaman = Path("/usr/share/fonts/truetype/tlwg/Laksaman.ttf")
    if not laksaman.is_file():
        pytest.skip("fonts-tlwg-laksaman-ttf is not installed (.ci/run installs it)")
    response = static_fetcher(app.static_folder or "static")(BASE_URL + "static/fonts/Laksaman.ttf")
    assert response.read() == laksaman.read_bytes()
    response.close()

    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "Thai.ttf").symlink_to(laksaman)
    (tmp_path / "fonts" / "secret.ttf").symlink_to(ROOT / "service" / "config.py")
    (tmp_path / "fonts" / "passwd.ttf").symlink_to("/etc/passwd")
    fetch = static_fetcher(tmp_path)
    assert fetch(BASE_URL + "static/fonts/Thai.ttf").read() == laksaman.read_bytes()
    for name in ("secret.ttf", "passwd.ttf", "missing.ttf"):
        with pytest.raises(RefusedURL):
            fetch(BASE_URL + f"static/fonts/{name}")


def test_a_long_evaluation_comment_breaks_across_pages_under_its_heading(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """A 3,000-character comment made its row taller than a page: kept whole, it left the
    table's heading alone on a page and ran on over the next four. It now starts under its
    heading and breaks across pages like text."""
    _weasyprint_or_skip()
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) reads the pages")
    from service.evaluations.models import Evaluation

    project = demo(session)
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.project_id == project.id)
    ).first()
    assert evaluation is not None
    evaluation.comment = "ความเห็นยาวมาก " * 250
    session.commit()
    pdf = login_as("officer").get(f"/projects/{project.id}.pdf").data
    pages = (
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
        )
        .stdout.decode("utf-8")
        .split("\f")
    )
    heading = next(p for p in pages if "ผลการประเมินโครงการ (รายไตรมาส)" in p)
    assert "ความเห็นยาวมาก" in heading
