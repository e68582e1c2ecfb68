"""Every box on a work page says what it is for, to a sighted reader on a phone: a field whose
only label is hidden for screen readers (or a placeholder that vanishes when typing starts)
leaves the clerk guessing which number goes where."""

from __future__ import annotations

import pytest

from tests.html_text import unlabelled_fields

PAGES = {
    "school": ["/school", "/account", "/notifications", "/kpis"],
    "officer": ["/review", "/dashboard", "/projects/new", "/plan-import", "/kpis", "/budget"],
    "approver": ["/approvals", "/budget", "/budget/transfers", "/budget/disbursement", "/acting"],
    "evaluator": ["/evaluations", "/overview/strategy", "/dashboard"],
    "admin": ["/admin/webhooks", "/admin/notifications/failed", "/line/groups", "/account"],
}


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_field_has_a_visible_label(login_as, role: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as(role)
    for path in PAGES[role]:
        response = client.get(path + "?lang=th")
        assert response.status_code == 200, path
        assert unlabelled_fields(response.get_data(as_text=True)) == [], path
