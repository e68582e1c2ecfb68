"""/api/v1/overview: the figures of the overview pages, under their rules: the same numbers
as the page's own export, 404 for a unit outside the caller's scope, 403 for a school, 422
for a year that does not exist."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.api_support import headers_for
from tests.conftest import login
from tests.work_data import demo_project

TH = {"Accept-Language": "th"}


def _export(client: FlaskClient, path: str) -> dict[str, tuple[int, int, Decimal, Decimal]]:
    """The page's CSV, by its first column: projects, behind, approved, paid."""
    text = client.get(path).get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return {
        r[0]: (int(r[2]), int(r[3]), Decimal(r[6].replace(",", "")), Decimal(r[9].replace(",", "")))
        for r in rows
    }


def _api(figures: dict[str, str | int]) -> tuple[int, int, Decimal, Decimal]:
    return (
        int(figures["projects"]),
        int(figures["behind"]),
        Decimal(str(figures["approved"])),
        Decimal(str(figures["paid"])),
    )


def test_the_overview_api_gives_the_pages_figures_under_their_rules(
    client: FlaskClient, session: Session
) -> None:
    year = demo_project(session).fiscal_year.be_year
    officer, approver = headers_for(session, "officer"), headers_for(session, "approver")
    school = headers_for(session, "school_a")
    session.commit()
    answer = client.get(f"/api/v1/overview/units/50230000?fiscal_year={year}", headers=approver)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["fiscal_year"] == year and body["unit"]["code"] == "50230000"
    assert body["unit"]["figures"]["projects"] >= 1
    login(client, "approver@demo.tidtam.local", "demo-approver-2566")
    page = _export(client, f"/overview/units/50230000?year={year}&format=csv")
    api = {u["code"]: _api(u["figures"]) for u in [body["unit"], *body["children"]]}
    assert api == page
    strategy = client.get(f"/api/v1/overview/strategy?fiscal_year={year}", headers=approver)
    assert strategy.status_code == 200
    nodes = {n["code"]: _api(n["figures"]) for n in strategy.get_json()["nodes"]}
    assert nodes and nodes == _export(client, f"/overview/strategy?year={year}&format=csv")
    # The officer's scope is the division: the district is "no such unit", in Thai.
    refused = client.get("/api/v1/overview/units/50230000", headers={**officer, **TH})
    assert refused.status_code == 404 and "50230000" in refused.get_json()["detail"]
    assert client.get("/api/v1/overview/units/50230700", headers=officer).status_code == 200
    for path in ("/api/v1/overview/units/5023077101", "/api/v1/overview/strategy"):
        answer = client.get(path, headers={**school, **TH})
        assert answer.status_code == 403 and "ภาพรวม" in answer.get_json()["detail"]
    wrong = client.get("/api/v1/overview/strategy?fiscal_year=2400", headers={**approver, **TH})
    assert wrong.status_code == 422 and "fiscal_year" in wrong.get_json()["errors"]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/overview/units/{code}", "/api/v1/overview/strategy"} <= set(spec["paths"])
