"""The PDF of the legacy project reads like its print view in a browser: its Thai texts come
back exactly from `pdftotext` (SARA AM included), and its first page, rendered, has the glyph
widths Chromium gives the same print view (no squeezed, overlapping words).

The first pages of both are kept as PNGs under artifacts/ for a person to look at."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.core.pdf import BASE_URL
from service.projects.models import Project
from tests.test_print import demo

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The flags tests/browser/test_journeys.py starts Debian's Chromium with.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XHTML = "{http://www.w3.org/1999/xhtml}"
PAGE_NUMBER = re.compile(r"^\s*\d+\s*/\s*\d+\s*$", re.MULTILINE)


def _need(*tools: str) -> None:
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing: apt-get install poppler-utils (.ci/run does)")
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: Pango missing
        pytest.skip(f"WeasyPrint cannot be imported here ({error})")


def _pdf_of(client: FlaskClient, project: Project) -> bytes:
    response = client.get(f"/projects/{project.id}.pdf")
    assert response.status_code == 200
    return response.data


def _text(pdf: bytes, *options: str) -> str:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *options, "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def _squeezed(text: str) -> str:
    """`text` without white space: lines wrap where the page ends, not where the text did."""
    return re.sub(r"\s+", "", text)


def test_pdf_text_is_the_projects_thai_text(login_as, session: Session, caplog) -> None:  # type: ignore[no-untyped-def]
    _need("pdftotext")
    project = demo(session)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        text = _text(_pdf_of(login_as("officer"), project))
    # Nothing dropped on the way (a chart that fails to draw is only logged).
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []
    body = _squeezed(PAGE_NUMBER.sub("", text.replace("\f", "\n")))
    expected = [
        project.name,
        project.rationale,
        *(objective.text for objective in project.objectives),
        *(target.text for target in project.targets),
        *(step.name for step in project.steps),
        project.owner_unit.name_th,
        project.responsible_unit.name_th,
        "สำนักงานเขตบางขุนเทียน",
        "งานประจำ",  # the project's kind
        "ต่ำกว่าแผน",  # SARA AM after a tone mark (HarfBuzz reorders the NIKHAHIT)
    ]
    assert "ำ" in project.rationale and "า" in project.rationale
    for wanted in expected:
        assert _squeezed(wanted) in body, wanted
    # Words on one line keep their spaces; SARA AM is not read as SARA AA nor the reverse.
    assert "สำนักงานเขตบางขุนเทียน" in text
    assert "สานักงาน" not in text and "งานประจา" not in text and "งำน" not in text


def test_svg_text_places_thai_marks_on_their_letters(app) -> None:  # type: ignore[no-untyped-def]
    """The charts' labels (SVG text) are as wide as the same text in HTML: WeasyPrint drew SVG
    text one code point at a time, each Thai mark alone after a dotted circle."""
    _need("pdftotext")
    from service.core.pdf import html_to_pdf

    label = "มี.ค.ร้อยละต่ำ"
    html = (
        '<html><body style="font-family: Laksaman; font-size: 20px">'
        f"<p>{label}</p>"
        '<svg width="400" height="60" font-family="Laksaman">'
        f'<text x="0" y="40" font-size="20">{label}</text></svg></body></html>'
    )
    pdf = html_to_pdf(html, app.static_folder or "static")
    words = [word for _, words in _lines(pdf) for word in words]
    assert [word.text for word in words] == [label, label]
    html_word, svg_word = words
    assert abs(svg_word.width - html_word.width) <= 0.02 * html_word.width, (svg_word, html_word)


@dataclass(frozen=True)
class Box:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0


def _lines(pdf: bytes) -> list[tuple[Box, list[Box]]]:
    """The first page's lines as `pdftotext -bbox-layout` sees them: each line's box and the
    boxes of its words."""
    tree = ElementTree.fromstring(_text(pdf, "-f", "1", "-l", "1", "-bbox-layout"))
    found = []
    for line in tree.iter(f"{XHTML}line"):
        words = [
            Box(
                word.text or "",
                *(float(word.attrib[key]) for key in ("xMin", "yMin", "xMax", "yMax")),
            )
            for word in line.iter(f"{XHTML}word")
        ]
        if words:
            text = " ".join(word.text for word in words)
            x0, y0 = min(w.x0 for w in words), min(w.y0 for w in words)
            x1, y1 = max(w.x1 for w in words), max(w.y1 for w in words)
            found.append((Box(text, x0, y0, x1, y1), words))
    return found


def _unique(lines: list[tuple[Box, list[Box]]]) -> dict[str, Box]:
    """The lines by their text (without spaces), leaving out any text that is on several."""
    by_text: dict[str, list[Box]] = {}
    for line, _ in lines:
        by_text.setdefault(_squeezed(line.text), []).append(line)
    return {text: boxes[0] for text, boxes in by_text.items() if len(boxes) == 1}


def _chromium_pdf(client: FlaskClient, path: str) -> bytes:
    """Chromium's print (A4, the page's own @page) of `path`, served by the Flask test client
    under the same base URL WeasyPrint renders against."""
    try:
        from playwright.sync_api import Route, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is missing: apt-get install -y chromium (.ci/run does)")

    def serve(route: Route) -> None:
        url = urlsplit(route.request.url)
        if f"{url.scheme}://{url.netloc}/" != BASE_URL:
            route.abort()
            return
        response = client.get(url.path + (f"?{url.query}" if url.query else ""))
        headers = {"Content-Type": response.headers.get("Content-Type", "application/octet-stream")}
        route.fulfill(status=response.status_code, headers=headers, body=response.get_data())
        response.close()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", serve)
            page.goto(BASE_URL + path.lstrip("/"))
            page.evaluate("document.fonts.ready.then(() => document.fonts.size)")
            pdf: Any = page.pdf(prefer_css_page_size=True, print_background=True)
        finally:
            browser.close()
    return bytes(pdf)


def _first_page_png(pdf: bytes, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
    prefix = ARTIFACTS / f"{name}-page1"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", "-", str(prefix)],
        input=pdf,
        check=True,
    )
    return prefix.with_suffix(".png")


def test_pdf_first_page_matches_chromiums_print(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    _need("pdftotext", "pdftoppm")
    project = demo(session)
    client = login_as("officer")
    ours = _pdf_of(client, project)
    chromium = _chromium_pdf(client, f"/projects/{project.id}/print")
    for pdf, name in ((ours, "pdf-weasyprint"), (chromium, "pdf-chromium")):
        assert _first_page_png(pdf, name).stat().st_size > 0

    our_lines = _lines(ours)
    assert len(our_lines) > 20
    # No two words of a line overlap (the squeezed PDF drew each glyph over its neighbour).
    for _line, words in our_lines:
        for left, right in pairwise(sorted(words, key=lambda word: word.x0)):
            assert left.x1 <= right.x0 + 0.5, f"{left.text!r} overlaps {right.text!r}"

    # The same line of text is as wide in both (within 3 %): same font, same size, same layout.
    # Only lines whose text is on the first page once in each are compared.
    theirs = _unique(_lines(chromium))
    compared = []
    for key, line in _unique(our_lines).items():
        other = theirs.get(key)
        if other is None or len(key) < 8:
            continue
        compared.append(line.text)
        assert abs(line.width - other.width) <= 0.03 * other.width, (
            f"{line.text!r}: {line.width:.1f} pt here, {other.width:.1f} pt in Chromium"
        )
    assert len(compared) >= 10, compared
    assert any("สำนักงานเขตบางขุนเทียน" in text for text in compared), compared
