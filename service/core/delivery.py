"""How responses travel: compressed when the browser accepts it, static files versioned and
kept for a year, and the favicon.

A page is compressed (Brotli when the browser accepts it, else gzip) once it is whole; a
streamed response (the CSV and XLSX exports) is never buffered for it. Static URLs carry
`?v=<hash of the file>` (added by `url_for`), so a browser may keep them for a year: a changed
file gets a new URL.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import brotli
from flask import Flask, Response, current_app, redirect, request, url_for
from werkzeug.security import safe_join

COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/csv",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/xml",
        "image/svg+xml",
    }
)
MIN_SIZE = 500  # bytes: below this the encoding costs more than it saves
MAX_FILE_SIZE = 2 * 1024 * 1024  # a static file above this is sent as it is
YEAR = 31_536_000

_versions: dict[str, tuple[int, int, str]] = {}


def static_version(filename: str) -> str | None:
    """The first 12 hex digits of the SHA-256 of static/`filename`, None if there is no such
    file. Remembered until the file's size or modification time changes."""
    folder = current_app.static_folder
    path = safe_join(folder, filename) if folder else None
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    known = _versions.get(path)
    if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
        return known[2]
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    _versions[path] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


def _version_static_urls(endpoint: str, values: dict[str, object]) -> None:
    if endpoint == "static" and "v" not in values and isinstance(values.get("filename"), str):
        version = static_version(str(values["filename"]))
        if version is not None:
            values["v"] = version


def _cache_versioned_static(response: Response) -> Response:
    """A static file asked for by its current version is kept for a year, unchanged."""
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename")
    version = request.args.get("v")
    if version and isinstance(filename, str) and version == static_version(filename):
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
        response.cache_control.no_cache = None
    return response


def _chosen_encoding() -> str | None:
    accepted = request.accept_encodings
    if accepted.quality("br") > 0:
        return "br"
    if accepted.quality("gzip") > 0:
        return "gzip"
    return None


def _compress(response: Response) -> Response:
    """Encode a whole, compressible response as the browser accepts; streams pass untouched."""
    if response.mimetype not in COMPRESSIBLE:
        return response
    response.vary.add("Accept-Encoding")
    status = response.status_code
    if (
        status < 200
        or 300 <= status < 400
        or status in (204, 206)
        or "Content-Encoding" in response.headers
        or "no-transform" in response.headers.get("Cache-Control", "")
    ):
        return response
    if response.is_streamed and not response.direct_passthrough:
        return response  # a generator (an export): compressing would buffer it whole
    encoding = _chosen_encoding()
    if encoding is None:
        return response
    if response.direct_passthrough:  # a file from send_file (a static file)
        size = response.content_length
        if size is None or size < MIN_SIZE or size > MAX_FILE_SIZE:
            return response
        response.direct_passthrough = False
        opened = response.response
        data = response.get_data()
        close = getattr(opened, "close", None)
        if close is not None:
            close()  # the file is read: release it now, not when collected
    else:
        data = response.get_data()
    if len(data) < MIN_SIZE:
        return response
    if encoding == "br":
        encoded = brotli.compress(data, mode=brotli.MODE_TEXT, quality=5)
    else:
        encoded = gzip.compress(data, compresslevel=6, mtime=0)
    response.set_data(encoded)
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag and not weak:
        # Another representation of the same content: a weak validator still answers 304.
        response.set_etag(etag, weak=True)
    return response


def favicon() -> Response:
    """/favicon.ico, asked for by browsers and tools that do not read the page's <link>."""
    # 302, not 301: the target's version changes with the file.
    return redirect(url_for("static", filename="favicon.svg"))  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    app.url_defaults(_version_static_urls)
    app.after_request(_cache_versioned_static)
    app.after_request(_compress)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
