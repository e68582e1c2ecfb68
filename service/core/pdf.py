"""HTML to PDF with WeasyPrint, offline: stylesheets, images and fonts come from the static
folder on disk, and any other URL is refused (the service runs on closed networks and a
print view must not make the server fetch what a user's text names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

#: The base URL print views are rendered against; only /static/ under it resolves.
BASE_URL = "http://tidtam.invalid/"


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
            target = (root / path.removeprefix("/static/")).resolve()
            if not target.is_relative_to(root) or not target.is_file():
                raise RefusedURL(f"no static file {path!r}")
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, target.read_bytes(), {"Content-Type": content_type}, 200)

    return StaticFetcher(fail_on_errors=False)


def html_to_pdf(html: str, static_folder: str | Path) -> bytes:
    """Render `html` (a print view with root-relative static URLs) to PDF bytes.

    Raises ImportError when WeasyPrint (or the Pango libraries it needs) is not installed.
    """
    from weasyprint import HTML

    document = HTML(string=html, base_url=BASE_URL, url_fetcher=static_fetcher(static_folder))
    pdf: bytes = document.write_pdf()
    return pdf
