"""HTML to PDF with WeasyPrint, offline: stylesheets, images and fonts come from the static
folder on disk, and any other URL is refused (the service runs on closed networks and a
print view must not make the server fetch what a user's text names).

Thai needs three things WeasyPrint does not do by itself:

- The print stylesheet names its font with @font-face pointing at static/fonts/, whose files
  are links to the fonts Debian installs (fonts-thai-tlwg's Laksaman). Naming a family that
  fontconfig has to find instead is fragile: the tlwg package *synthesizes* "TH Sarabun" from
  Laksaman at 0.66 scale, Pango lays the text out at that scale and WeasyPrint draws the
  glyphs unscaled, so every line came out squeezed and overlapping.
- HarfBuzz always decomposes SARA AM (U+0E33) into NIKHAHIT + SARA AA, and moves the NIKHAHIT
  in front of a tone mark. A PDF maps each glyph to one text only, so the SARA AA glyph
  cannot read back as both "า" and "ำ": copied text lost SARA AM. Every line holding
  Thai is therefore wrapped in a marked-content span carrying its text as /ActualText (what
  browsers' PDF printing does too), which text extraction and copying use instead.
- WeasyPrint lays SVG text (the charts' labels) out one code point at a time, so a Thai vowel
  or tone mark was shaped alone, after a dotted circle ("ม◌ี.ค."). SVG text is laid
  out one Thai cluster (a letter with its marks) at a time instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

#: The base URL print views are rendered against; only /static/ under it resolves.
BASE_URL = "http://tidtam.invalid/"

#: Where the static/fonts/ links may point: the directories Debian's font packages install to.
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_SUFFIXES = (".ttf", ".otf", ".woff", ".woff2")

#: Thai letters, vowels and marks: a line holding one gets its text as /ActualText.
THAI = re.compile("[\u0e00-\u0e7f]")
#: A character with the Thai marks that follow it (vowels above and below, SARA AM, tone marks).
THAI_CLUSTER = re.compile("(?s:.)[\u0e31\u0e33-\u0e3a\u0e47-\u0e4e]*")


class _Clusters(str):
    """A text that iterates by Thai cluster, not by code point (for WeasyPrint's SVG text)."""

    def __iter__(self) -> Any:
        return iter(THAI_CLUSTER.findall(self))


class RefusedURL(ValueError):
    """A print view named a resource that is not one of our static files."""


def static_fetcher(static_folder: str | Path) -> Any:
    """A WeasyPrint URL fetcher serving `/static/<file>` from `static_folder` and `data:`
    URLs, and refusing everything else."""
    import mimetypes

    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_folder).resolve()

    class StaticFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme == "data":
                return super().fetch(url, headers)
            path = unquote(parts.path)
            if f"{parts.scheme}://{parts.netloc}/" != BASE_URL or not path.startswith("/static/"):
                raise RefusedURL(f"print views load only static files, not {url!r}")
            target = _static_file(root, path.removeprefix("/static/"))
            if target is None:
                raise RefusedURL(f"no static file {path!r}")
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, target.read_bytes(), {"Content-Type": content_type}, 200)

    return StaticFetcher(fail_on_errors=False)


def _static_file(root: Path, name: str) -> Path | None:
    """The file `name` names under `root`, or None. A link may leave `root` only when it is a
    font file installed by the system (static/fonts/ links to Debian's Thai fonts)."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    target = (root / relative).resolve()
    if not target.is_file():
        return None
    if target.is_relative_to(root):
        return target
    if target.suffix.lower() in FONT_SUFFIXES and any(
        target.is_relative_to(folder) for folder in FONT_DIRS
    ):
        return target
    return None


def _carry_actual_text() -> None:
    """Make WeasyPrint wrap each line of Thai text in `/Span <</ActualText (...)>> BDC ... EMC`,
    so that the text read back from the PDF is the text written (SARA AM included), whatever
    glyphs the shaper made of it. Done once per process."""
    import pydyf
    from weasyprint.draw import text as draw_text

    original = draw_text.draw_first_line
    if getattr(original, "carries_actual_text", False):
        return

    def draw_first_line(stream: Any, textbox: Any, *args: Any, **kwargs: Any) -> Any:
        text = textbox.text
        if not THAI.search(text):
            return original(stream, textbox, *args, **kwargs)
        actual = pydyf.Dictionary({"ActualText": pydyf.String(text)})
        stream.begin_marked_content("Span", actual)
        try:
            return original(stream, textbox, *args, **kwargs)
        finally:
            stream.end_marked_content()

    draw_first_line.carries_actual_text = True  # type: ignore[attr-defined]
    draw_text.draw_first_line = draw_first_line


def _svg_text_by_cluster() -> None:
    """Make WeasyPrint's SVG text place a Thai letter and its marks together. Done once."""
    from weasyprint import svg

    original = svg.text
    if getattr(original, "by_cluster", False):
        return

    def text(drawing: Any, node: Any, font_size: float) -> Any:
        value = node._etree_node.text
        if value and THAI.search(value):
            node._etree_node.text = _Clusters(value)
        return original(drawing, node, font_size)

    text.by_cluster = True  # type: ignore[attr-defined]
    for tag, draw in list(svg.TAGS.items()):
        if draw is original:
            svg.TAGS[tag] = text
    svg.text = text  # the drawing compares TAGS entries with this name


def html_to_pdf(html: str, static_folder: str | Path) -> bytes:
    """Render `html` (a print view with root-relative static URLs) to PDF bytes.

    Raises ImportError when WeasyPrint (or the Pango libraries it needs) is not installed.
    """
    from weasyprint import HTML

    _carry_actual_text()
    _svg_text_by_cluster()
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=static_fetcher(static_folder))
    pdf: bytes = document.write_pdf()
    return pdf
