"""Login, logout and what each role sees after signing in."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.auth.views import safe_next
from tests.conftest import DEMO_PASSWORDS, csrf_token, login


@pytest.mark.parametrize("email", sorted(DEMO_PASSWORDS))
def test_each_role_lands_on_a_page_saying_who_they_are(client: FlaskClient, email: str) -> None:
    login(client, email, DEMO_PASSWORDS[email])
    page = client.get("/home", follow_redirects=True)  # a school lands on /school
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    role = email.split("@")[0]
    assert f'data-role="{role}"' in body


def test_scope_school_sees_only_its_school_but_the_project_it_reports_on(
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    body = login_as("school").get("/home?lang=en", follow_redirects=True).get_data(as_text=True)
    assert "You can see 1 units and 1 projects." in body
    assert "50230000-3598" in body


def test_scope_officer_sees_the_division_subtree(login_as) -> None:  # type: ignore[no-untyped-def]
    body = login_as("officer").get("/home?lang=en").get_data(as_text=True)
    # the division, two networks, six schools
    assert "You can see 9 units and 1 projects." in body


def test_scope_evaluator_sees_everything(login_as) -> None:  # type: ignore[no-untyped-def]
    body = login_as("evaluator").get("/home?lang=en").get_data(as_text=True)
    assert "You can see 12 units and 1 projects." in body


def test_wrong_password_is_refused_without_saying_which_part(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    for email in ("school@demo.tidtam.local", "nobody@demo.tidtam.local"):
        response = client.post(
            "/login?lang=en",
            data={"email": email, "password": "wrong-password", "csrf_token": token},
        )
        assert response.status_code == 200
        assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/login", data={"email": "school@demo.tidtam.local", "password": "demo-school-2566"}
    )
    assert response.status_code == 400
    assert client.get("/home").status_code == 302


def test_pages_need_login_and_keep_next(client: FlaskClient) -> None:
    response = client.get("/home")
    assert response.status_code == 302
    assert "/login?next=%2Fhome" in response.headers["Location"]


def test_next_goes_only_to_this_site(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=https://evil.example/steal",
        data={
            "email": "school@demo.tidtam.local",
            "password": "demo-school-2566",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/home"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/home", "/home"),
        ("/projects/1?tab=steps", "/projects/1?tab=steps"),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_safe_next(target: str, expected: str | None) -> None:
    assert safe_next(target) == expected


def test_logout_really_ends_the_session(client: FlaskClient, session: Session) -> None:
    login(client, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    assert client.get("/home").status_code == 200
    stolen = client.get_cookie("session")
    assert stolen is not None
    token = csrf_token(client, "/home")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/home").status_code == 302
    # A copy of the old cookie is worthless too.
    client.set_cookie("session", stolen.value)
    assert client.get("/home").status_code == 302


def test_sign_out_from_a_page_left_open_since_an_earlier_sign_in(
    client: FlaskClient, session: Session
) -> None:
    """The old page's token is the old session's: the press gets a page with a fresh Sign out
    button (not a 400 that leaves the person signed in), and that button signs out. A post
    without any token (another site) signs nobody out either."""
    email = "officer@demo.tidtam.local"
    login(client, email, DEMO_PASSWORDS[email])
    stale = csrf_token(client, "/home")
    client.post("/logout", data={"csrf_token": stale})
    login(client, email, DEMO_PASSWORDS[email])
    asked = client.post("/logout", data={"csrf_token": stale})
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert 'id="sign-out-again"' in page
    assert client.get("/home").status_code == 200  # still signed in until the press
    assert client.post("/logout", data={}).status_code == 200
    assert client.get("/home").status_code == 200
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page.split('id="sign-out-again"')[0])
    assert fresh is not None
    assert client.post("/logout", data={"csrf_token": fresh.group(1)}).status_code == 302
    assert client.get("/home").status_code == 302
    # Signed out already (in another tab): the login page says so, and signing in from it
    # lands at home, not at /logout (a GET there answered 405).
    again = client.post("/logout", data={"csrf_token": stale})
    assert again.status_code == 302 and again.location.endswith("/login")
    login(client, email, DEMO_PASSWORDS[email])
    assert client.get("/home").status_code == 200


def test_security_headers_on_pages_and_errors(client: FlaskClient) -> None:
    for path in ("/login", "/no-such-page"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/no-such-page").status_code == 404


def test_thai_by_default_english_on_request(client: FlaskClient) -> None:
    assert 'lang="th"' in client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in client.get("/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)  # remembered


def test_a_page_that_needs_a_sign_in_says_so_in_thai(app: Flask) -> None:
    client = app.test_client()
    client.get("/login?lang=th")
    page = client.get("/account", follow_redirects=True).get_data(as_text=True)
    assert "กรุณาเข้าสู่ระบบก่อนเปิดหน้านี้" in page and "Please log in" not in page
