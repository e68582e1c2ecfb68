"""The header's language links rebuild the page's own address: a query parameter named like one
of the path's values (?code= on /overview/units/<code>) neither breaks the page nor replaces the
path's value."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient


def test_an_error_page_renders_with_a_query_named_like_a_path_value(
    client: FlaskClient, login_as: Callable[[str], FlaskClient]
) -> None:
    login_as("school")
    refused = client.get("/overview/units/50230000?code=x&lang=th")
    assert refused.status_code == 403  # a school has no overview; the error page still renders


def test_the_language_link_keeps_the_paths_value(
    client: FlaskClient, login_as: Callable[[str], FlaskClient]
) -> None:
    login_as("officer")
    page = client.get("/overview/units/50230700?code=x")
    assert page.status_code == 200
    assert 'href="/overview/units/50230700?lang=en"' in page.get_data(as_text=True)
