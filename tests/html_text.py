"""Reading rendered pages the way a person does: the visible text, and the separate strings a
page is made of (text nodes and the attributes people read: labels, titles, placeholders)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SPACE = re.compile(r"\s+")
_READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "data-label")
_SKIPPED = ("script", "style", "head")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.attributes: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        for name, value in attrs:
            if name in _READ_ATTRIBUTES and value:
                self.attributes.append(value)
        if tag in ("br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "dt", "dd"):
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def read(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def visible_text(html: str) -> str:
    """The page's text with every run of whitespace made one space."""
    return _SPACE.sub(" ", "".join(read(html).pieces)).strip()


def strings(html: str) -> list[str]:
    """Each text node and read attribute of the page, whitespace collapsed, empty ones left out."""
    reader = read(html)
    found = [_SPACE.sub(" ", piece).strip() for piece in reader.pieces + reader.attributes]
    return [piece for piece in found if piece]


class _Labels(HTMLParser):
    """The form fields of a page and the text a sighted reader sees in each field's label."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[str] = []
        self.seen: dict[str, str] = {}
        self._open: list[list[str | None]] = []  # per open <label>: its `for`, then its text
        self._hidden = 0  # depth inside a visually hidden element (.sr-label)
        self._cell = False  # inside a table cell that names its column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        classes = (named.get("class") or "").split()
        if self._hidden or "sr-label" in classes:
            self._hidden += tag not in ("input", "br")
        if tag == "label":
            self._open.append([named.get("for"), ""])
        if tag == "td":
            # a table cell's column names it: the header on a wide screen, `data-label`
            # drawn beside the cell on a phone
            self._cell = bool(named.get("data-label"))
        if tag in ("input", "select", "textarea"):
            if named.get("type") in ("hidden", "submit", "button") or named.get("aria-label"):
                return
            field = named.get("id") or named.get("name") or "?"
            self.fields.append(field)
            if self._cell:
                self.seen[field] = "(column)"
            if self._open and self._open[-1][0] is None:
                self._open[-1][0] = field

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = False
        if tag == "label" and self._open:
            field, text = self._open.pop()
            if field:
                self.seen[field] = self.seen.get(field, "") + (text or "").strip()
        if self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if self._open and not self._hidden:
            self._open[-1][1] = (self._open[-1][1] or "") + data


def unlabelled_fields(html: str) -> list[str]:
    """The ids of the page's form fields that no visible label names (a label hidden for
    screen readers only, or none, leaves a sighted reader guessing what a box is for)."""
    reader = _Labels()
    reader.feed(html)
    return [field for field in reader.fields if not reader.seen.get(field)]
