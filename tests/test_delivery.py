"""How pages reach a person (issue 18): a visible focus ring, Thai type served by Tidtam, compressed
pages, static files kept for a year, a session that survives a browser update, and the small
things tools and screen readers look for (favicon, description, headings, table headers)."""

from __future__ import annotations

import gzip
import itertools
import re
from html.parser import HTMLParser
from pathlib import Path

import brotli
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.projects.models import Project
from tests.conftest import DEMO_PASSWORDS, login

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
SCREEN_CSS = ("tidtam.css", "work.css")
_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


# ---- the CSS, read as text -------------------------------------------------------------------


def _css(name: str) -> str:
    return re.sub(r"/\*.*?\*/", "", (STATIC / name).read_text(), flags=re.S)


def _rules(css: str) -> list[tuple[str, str]]:
    """(selector, declarations) of every innermost rule, at-rule wrappers looked through."""
    return [
        (selector.strip().split("{")[-1].strip(), body)
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
    ]


def _variables(css: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;}]+)", css))


def _colour(value: str, variables: dict[str, str]) -> str | None:
    value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables.get(m.group(1), ""), value)
    found = _HEX.search(value)
    if found is None:
        return None
    digits = found.group(1)
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits).lower()


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """The WCAG 2 contrast ratio of two #rrggbb colours."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _declared(
    rules: list[tuple[str, str]], prop: str, variables: dict[str, str]
) -> list[tuple[str, str]]:
    """(selector, colour) of every `prop` declaration in `rules` that names a colour."""
    found = []
    for selector, body in rules:
        for value in re.findall(rf"(?:^|;)\s*{prop}\s*:\s*([^;]+)", body):
            colour = _colour(value, variables)
            if colour is not None:
                found.append((selector, colour))
    return found


def test_contrast_ratio_is_computed_as_wcag_says() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#f4a300", "#ffffff") < 3  # the old ring, about 2:1


def test_focus_ring_has_3_to_1_against_every_background_it_sits_on() -> None:
    """The page's ring against white and every light (grey, tinted) background; the top bar's
    ring against the bar."""
    css = "\n".join(_css(name) for name in SCREEN_CSS)
    variables = _variables(css)
    rules = _rules(css)
    rings = _declared([(s, b) for s, b in rules if ":focus" in s], r"outline(?:-color)?", variables)
    assert rings, "no focus ring in the CSS"
    backgrounds = _declared(rules, r"background(?:-color)?", variables)
    backgrounds.append(("body", _colour("var(--bg)", variables) or ""))
    page_backgrounds = {c for s, c in backgrounds if _luminance(c) > 0.5} | {"#ffffff"}
    bar = {c for s, c in backgrounds if s.strip() == ".topbar"}
    assert bar == {"#0b5c8a"}
    assert len(page_backgrounds) >= 5  # white, the page grey and the tints really were found
    for selector, ring in rings:
        behind = bar if ".topbar" in selector else page_backgrounds
        for background in behind:
            ratio = contrast(ring, background)
            assert ratio >= 3, f"{selector}: {ring} on {background} is {ratio:.2f}:1"


def test_a_button_that_cannot_be_used_looks_so_and_stays_readable() -> None:
    """A disabled button kept its colours and pointer: it looked as if it could be pressed.
    Every disabled button is muted, says so by its cursor, and its words keep AA contrast."""
    css = "\n".join(_css(name) for name in SCREEN_CSS)
    variables = _variables(css)
    rules = [(s, b) for s, b in _rules(css) if "button:disabled" in s.split(",")[0]]
    assert rules, "no rule styles a disabled button"
    body = " ".join(b for _s, b in rules)
    assert re.search(r"cursor\s*:\s*not-allowed\s*!important", body)
    (_s, ink), *_ = _declared(rules, "color", variables)
    (_s, background), *_ = _declared(rules, r"background(?:-color)?", variables)
    assert background not in (_colour("var(--brand)", variables), "#ffffff")
    assert contrast(ink, background) >= 4.5
    # It wins over every button's own colours, however specific their rules are.
    assert re.search(r"background\s*:[^;]*!important", body)
    assert re.search(r"(?:^|;)\s*color\s*:[^;]*!important", body)


def test_thai_type_is_served_by_tidtam_and_controls_inherit_it(client: FlaskClient) -> None:
    css = _css("tidtam.css")
    faces = re.findall(r"@font-face\s*\{([^}]*)\}", css)
    assert len(faces) == 2  # regular and bold
    for face in faces:
        assert 'font-family:"Noto Sans Thai"' in face
        assert "font-display:swap" in face.replace(" ", "")
        url = re.search(r'url\("([^"]+)"\)', face)
        assert url is not None
        response = client.get("/static/" + url.group(1))
        assert response.status_code == 200
        assert response.data[:4] == b"wOF2"
        # The version in the CSS is the file's own, so the year-long lifetime applies.
        assert "immutable" in response.headers["Cache-Control"]
        response.close()
    assert (STATIC / "fonts" / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") >= 1
    assert "TH Sarabun New" not in css
    assert re.search(r"button, input, select, textarea \{ font:inherit; \}", css)
    for heading in ("h1", "h2", "h3"):
        body = dict(_rules(css))[heading]
        height = re.search(r"line-height:([\d.]+)", body)
        assert height is not None and float(height.group(1)) >= 1.45, heading


# ---- compression and caching -----------------------------------------------------------------


def test_pages_are_compressed_when_the_browser_accepts_it(client: FlaskClient) -> None:
    plain = client.get("/public/projects?year=2566")
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    body = plain.data

    brotli_page = client.get("/public/projects?year=2566", headers={"Accept-Encoding": "gzip, br"})
    assert brotli_page.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in brotli_page.headers["Vary"]
    assert int(brotli_page.headers["Content-Length"]) == len(brotli_page.data) < len(body) / 3
    assert brotli.decompress(brotli_page.data) == body

    gzip_page = client.get("/public/projects?year=2566", headers={"Accept-Encoding": "gzip"})
    assert gzip_page.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gzip_page.data) == body

    refused = client.get(
        "/public/projects?year=2566", headers={"Accept-Encoding": "br;q=0, gzip;q=0, identity"}
    )
    assert "Content-Encoding" not in refused.headers


def test_streamed_exports_are_not_buffered_for_compression(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    response = client.get(
        "/dashboard?year=2566&format=csv", headers={"Accept-Encoding": "br, gzip"}
    )
    assert response.status_code == 200
    assert response.is_streamed
    assert "Content-Encoding" not in response.headers
    assert "รหัสโครงการ" in response.get_data(as_text=True)


def test_static_files_are_versioned_and_kept_for_a_year(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'href="(/static/tidtam\.css\?v=([0-9a-f]{12}))"', page)
    assert match, "the stylesheet URL carries no version"
    url = match.group(1)
    response = client.get(url)
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "immutable" in cache
    response.close()

    compressed = client.get(url, headers={"Accept-Encoding": "br"})
    assert compressed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(compressed.data) == (STATIC / "tidtam.css").read_bytes()
    etag = compressed.headers["ETag"]
    assert etag.startswith('W/"')
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304
    again.close()

    # An unversioned or outdated URL may change under the same name: not kept for a year.
    for stale in ("/static/tidtam.css", "/static/tidtam.css?v=000000000000"):
        response = client.get(stale)
        assert response.status_code == 200
        assert "immutable" not in response.headers.get("Cache-Control", "")
        response.close()


# ---- sessions --------------------------------------------------------------------------------


def test_a_browser_update_keeps_the_person_signed_in(client: FlaskClient) -> None:
    old = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/130.0 Safari/537.36"}
    new = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0 Safari/537.36"}
    client.environ_base["HTTP_USER_AGENT"] = old["User-Agent"]
    login(client, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    assert client.get("/home", headers=old).status_code == 200
    assert client.get("/home", headers=new).status_code == 200  # the browser updated itself
    # A phone moving from Wi-Fi to its mobile network keeps the session too.
    moved = client.get("/home", headers=new, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert moved.status_code == 200
    assert client.get("/home", headers=new).status_code == 200


# ---- favicon, description, headings, table headers -------------------------------------------


def test_favicon_is_linked_and_favicon_ico_answers(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg\?v=[0-9a-f]{12}"', page)
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response.headers["Location"])
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert icon.data.startswith(b"<svg")
    icon.close()


def test_public_pages_have_a_description(client: FlaskClient, session: Session) -> None:
    project = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert project is not None
    for path, words in (
        ("/public/projects?year=2566", "ความคืบหน้าและงบประมาณ"),
        (f"/public/projects/{project.id}", project.name),
        ("/login", "ติดตามความคืบหน้า"),
    ):
        page = client.get(path).get_data(as_text=True)
        found = re.search(r'<meta name="description" content="([^"]+)">', page)
        assert found, path
        assert words in found.group(1), (path, found.group(1))


class _Outline(HTMLParser):
    """Heading levels in order and the text of each table header cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.levels: list[int] = []
        self.headers: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self.levels.append(int(tag[1]))
        if tag == "th":
            self._in_th = True
            self.headers.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headers[-1] += data.strip()


def _outline(html: str) -> _Outline:
    reader = _Outline()
    reader.feed(html)
    return reader


@pytest.mark.parametrize("path", ["/projects/new", "/projects/{id}/edit"])
def test_project_editor_skips_no_heading_level(login_as, session: Session, path: str) -> None:  # type: ignore[no-untyped-def]
    project = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert project is not None
    page = login_as("officer").get(path.format(id=project.id))
    assert page.status_code == 200
    levels = _outline(page.get_data(as_text=True)).levels
    assert levels[0] == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"h{before} is followed by h{after}: {levels}"


def test_failed_notifications_table_has_no_empty_header(login_as) -> None:  # type: ignore[no-untyped-def]
    page = login_as("admin").get("/admin/notifications/failed")
    assert page.status_code == 200
    headers = _outline(page.get_data(as_text=True)).headers
    assert headers and all(headers), headers
