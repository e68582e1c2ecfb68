"""A request line longer than gunicorn reads (4094 bytes unless set) is a 414 whatever server
runs the app: `make web`'s worker answers it before the app sees it
(tests/test_export_safety.py), and the app answers it the same under any other server
(`flask run` read up to 65,536 bytes and served such a query, or refused one long value with
a 400): problem+json under /api/v1, the error page elsewhere, in the reader's language."""

from __future__ import annotations

import gc
from types import SimpleNamespace

from flask import Flask
from flask.testing import FlaskClient
from gunicorn.config import LimitRequestLine

from service.core.input_guard import REQUEST_LINE_LIMIT
from service.ops.web_worker import ProblemWorker
from tests.api_support import problem_of

# Values of 4 characters, 2,000 of them: each short, together 10,000 characters.
MANY = "&".join(["a=12"] * 2000)


def _line(path: str) -> int:
    return len(f"GET {path} HTTP/1.1")


def test_the_api_answers_a_long_query_in_problem_json(client: FlaskClient) -> None:
    for path in (f"/api/v1/projects?{MANY}", f"/api/v1/projects?q={'a' * 9000}"):
        thai = client.get(path)
        assert thai.status_code == 414
        assert problem_of(thai)["title"] == "ที่อยู่ยาวเกินไป"
        assert problem_of(thai)["detail"] == "ที่อยู่ยาวเกิน 4094 ไบต์ที่เซิร์ฟเวอร์นี้อ่านได้"
        english = client.get(path, headers={"Accept-Language": "en"})
        assert english.status_code == 414
        assert problem_of(english)["detail"] == (
            "The address is longer than the 4094 bytes this server reads."
        )


def test_a_page_answers_it_with_the_error_page(client: FlaskClient) -> None:
    for path in (f"/public/projects?{MANY}", f"/public/projects?q={'a' * 9000}"):
        answer = client.get(f"{path}&lang=th")  # the choice is kept: each says its own
        assert answer.status_code == 414 and answer.mimetype == "text/html"
        page = answer.get_data(as_text=True)
        assert "ที่อยู่ยาวเกิน 4094 ไบต์ที่เซิร์ฟเวอร์นี้อ่านได้" in page
        english = client.get(f"{path}&lang=en").get_data(as_text=True)
        assert "The address is longer than the 4094 bytes this server reads." in english


def test_a_line_of_the_limit_is_read(client: FlaskClient) -> None:
    at_limit = "/public/projects?year=2566"
    while _line(at_limit) < REQUEST_LINE_LIMIT:  # values under the 2,000 characters of one
        at_limit += "&p=" + "a" * min(1000, REQUEST_LINE_LIMIT - _line(at_limit) - 3)
    assert _line(at_limit) == REQUEST_LINE_LIMIT
    assert client.get(at_limit).status_code == 200
    assert client.get(at_limit + "a").status_code == 414


def test_the_limit_is_gunicorns(app: Flask) -> None:
    assert LimitRequestLine.default == REQUEST_LINE_LIMIT
    # A gunicorn told otherwise (--limit-request-line) tells the app too; 0 is no limit.
    worker = ProblemWorker.__new__(ProblemWorker)
    worker.app = SimpleNamespace(wsgi=lambda: app)  # type: ignore[assignment]
    worker.cfg = SimpleNamespace(limit_request_line=0, reload=False)  # type: ignore[assignment]
    before = app.config.get("REQUEST_LINE_LIMIT")
    try:
        worker.load_wsgi()
        assert app.config["REQUEST_LINE_LIMIT"] == 0
        with app.test_client() as client:
            assert client.get(f"/api/v1/projects?{MANY}").status_code != 414
    finally:
        gc.unfreeze()
        if before is None:
            app.config.pop("REQUEST_LINE_LIMIT", None)
        else:
            app.config["REQUEST_LINE_LIMIT"] = before
