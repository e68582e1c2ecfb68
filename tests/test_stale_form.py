"""A form sent from a page kept open too long (its CSRF token expired, or gone with the
session) answers 400 with a page that says so, in the reader's language, and offers to reload
the page the form came from; other 400s keep their own message."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.projects.models import ResultState
from tests.conftest import csrf_token
from tests.work_data import in_app_context, school_result  # noqa: F401

STALE_TH = "หน้านี้เก่าแล้ว"
RELOAD_TH = "โหลดหน้านี้ใหม่"
STALE_EN = "This page is out of date"


def _reload_link(page: str) -> str:
    match = re.search(r'<a class="button" href="([^"]*)">([^<]*)</a>', page)
    assert match, page[-1500:]
    assert match.group(2) in (RELOAD_TH, "Reload the page")
    return match.group(1)


def test_a_stale_form_says_the_page_is_old_and_offers_to_reload_it(login_as) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = login_as("evaluator")
    came_from = "http://localhost/evaluations?lang=th"
    client.get(came_from)
    for data in ({"csrf_token": "expired-or-forged"}, {}):  # a bad token, and none at all
        response = client.post(
            "/evaluations/score",
            data={**data, "subject_type": "project"},
            headers={"Referer": came_from},
        )
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert STALE_TH in page and "The request could not be understood" not in page
        assert _reload_link(page) == came_from


def test_the_reload_link_stays_on_this_site(login_as) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = login_as("evaluator")
    for referrer in ("http://evil.example/phish", "http://localhost.evil.example/", None):
        headers = {"Referer": referrer} if referrer else {}
        response = client.post("/evaluations/score?lang=en", data={}, headers=headers)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert STALE_EN in page
        assert _reload_link(page) == "/"


def test_other_bad_requests_keep_their_message(login_as) -> None:  # type: ignore[no-untyped-def]
    client: FlaskClient = login_as("evaluator")
    token = csrf_token(client, "/evaluations?lang=th")
    response = client.post(
        "/evaluations/score", data={"csrf_token": token, "subject_type": "neither"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert STALE_TH not in page and RELOAD_TH not in page
    # Nor is it marked as a refused token: a page's script fetches no token for it.
    assert "X-CSRF-Refused" not in response.headers


def test_a_stale_form_shows_what_was_typed_to_copy_back(login_as) -> None:  # type: ignore[no-untyped-def]
    """Signed out in another tab, the score's comment typed on the old page was lost with the
    400: it is shown back to copy, never a password, a code or the token, nor bare numbers."""
    client: FlaskClient = login_as("evaluator")
    comment = "โครงการดำเนินการครบ\nแต่ส่งรายงานช้า <b>สองสัปดาห์</b>"
    response = client.post(
        "/evaluations/score",
        data={
            "csrf_token": "from-the-old-session",
            "subject_type": "project",
            "subject_id": "17",
            "score": "82.5",
            "comment": comment,
            "password": "not-to-be-echoed",
            "totp_code": "123456",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    typed = page.split('data-testid="typed"')[1].split("</section>")[0]
    assert "โครงการดำเนินการครบ\nแต่ส่งรายงานช้า &lt;b&gt;สองสัปดาห์&lt;/b&gt;" in typed
    assert "82.5" in typed and ">17<" not in typed and ">project<" not in typed
    for secret in ("not-to-be-echoed", "123456", "from-the-old-session"):
        assert secret not in page


def test_a_refused_token_is_marked_and_this_sessions_token_can_be_fetched(  # type: ignore[no-untyped-def]
    login_as, client: FlaskClient, session: Session
) -> None:
    """Signed out and in again in another tab, a result page's form carries the old
    session's token: its refusal is marked for the page's script, which fetches this
    session's token from this site and sends once more (static/js/upload.js)."""
    result = school_result(session, position=4)
    login_as("school")
    old = csrf_token(client, f"/results/{result.id}")
    client.post("/logout", data={"csrf_token": old})
    # Signed out, no token: the sign-in page, as for any page (the script says to sign in).
    signed_out = client.get("/csrf-token", headers={"X-Requested-With": "XMLHttpRequest"})
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    login_as("school")

    form = {"csrf_token": old, "completion": "70", "narrative": "ส่งจากหน้าที่เปิดไว้ก่อน"}
    headers = {"X-Requested-With": "XMLHttpRequest"}
    refused = client.post(f"/results/{result.id}", data=form, headers=headers)
    assert refused.status_code == 400 and refused.headers.get("X-CSRF-Refused") == "1"

    answer = client.get("/csrf-token", headers=headers)
    assert answer.status_code == 200 and answer.json is not None
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in answer.headers  # this site's pages only
    fresh = answer.json["csrf_token"]
    sent = client.post(f"/results/{result.id}", data={**form, "csrf_token": fresh}, headers=headers)
    assert sent.status_code == 200, sent.get_data(as_text=True)[:300]
    session.expire_all()
    assert result.state is ResultState.SUBMITTED
