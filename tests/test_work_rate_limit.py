"""Login is rate limited: 10 failed attempts a minute per address and email, then 429."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from tests.conftest import csrf_token, login
from tests.work_data import in_app_context  # noqa: F401


def test_the_eleventh_failed_login_in_a_minute_is_refused(client: FlaskClient) -> None:
    email = f"guess-{uuid.uuid4().hex[:8]}@demo.tidtam.local"  # a key no other run shares
    token = csrf_token(client, "/login?lang=en")
    for _attempt in range(10):
        response = client.post(
            "/login", data={"email": email, "password": "wrong-password", "csrf_token": token}
        )
        assert response.status_code == 200  # the form again, "wrong email or password"
    response = client.post(
        "/login", data={"email": email, "password": "wrong-password", "csrf_token": token}
    )
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    # Another account from the same address is not locked out, and succeeding never counts.
    login(client, "school@demo.tidtam.local", "demo-school-2566")
