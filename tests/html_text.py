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
