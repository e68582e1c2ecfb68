"""Every list page and API list, as each kind of reader, on the bench database: time and size.

    .venv/bin/python -m bench.sweep [URL …]

Signs in (through the login form, in-process with Flask's test client) as a generated
district approver, a school, an evaluator and an administrator of the bench database
(`make bench` creates it), requests each page twice and prints the second request's time
and size. Pages that render everything they may show are found this way: at 100,000
projects an evaluator's evaluation queue took 83 s and 45 MB, an admin's user list 25 s
and 203 MB, before they were paged. Not a benchmark of throughput: one request at a time.
"""

from __future__ import annotations

import os
import sys
import time

from bench.database import DATABASE, database_url

PAGES = [
    "/home",
    "/dashboard",
    "/school",
    "/review",
    "/budget",
    "/approvals",
    "/evaluations",
    "/notifications",
    "/public/projects",
    "/admin/users",
    "/admin/units",
    "/admin/delegations",
    "/admin/tokens",
    "/api/v1/projects",
    "/api/v1/results",
    "/api/v1/allocations",
    "/api/v1/installments",
    "/api/v1/evaluations",
    "/api/v1/users",
    "/api/v1/units",
]

#: (who, generated e-mail address's local part) of the readers swept.
READERS = (
    ("district approver", "approver1.50010000"),
    ("school", "school1.5001077101"),
    ("evaluator", "evaluator1.11000000"),
    ("administrator", "admin1.10000000"),
)


def main(argv: list[str]) -> int:
    server = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    os.environ.update(
        DATABASE_URL=database_url(server, DATABASE),
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-sweep-" + "x" * 32),
        TIDTAM_ENV="production",
        TIDTAM_INSTANCE=os.environ.get("TIDTAM_INSTANCE", "/tmp/tidtam-bench-sweep"),
        DATABASE_PARALLEL_WORKERS="0",  # as `make web`
        DATABASE_STATEMENT_TIMEOUT_MS="25000",
    )
    from service import create_app
    from tools.generate import EMAIL_DOMAIN, GENERATED_PASSWORD

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False
    pages = argv or PAGES
    print(f"{'reader':<18} {'ms':>9} {'status':>6} {'bytes':>11}  page")
    for who, local in READERS:
        client = app.test_client()
        signed_in = client.post(
            "/login", data={"email": f"{local}@{EMAIL_DOMAIN}", "password": GENERATED_PASSWORD}
        )
        if signed_in.status_code != 302:
            print(f"{who:<18} cannot sign in as {local} ({signed_in.status_code})")
            continue
        for page in pages:
            client.get(page)
            started = time.perf_counter()
            response = client.get(page)
            spent = (time.perf_counter() - started) * 1000
            if response.status_code in (403, 404):
                continue  # not this reader's page
            size = len(response.data)
            print(f"{who:<18} {spent:>9,.1f} {response.status_code:>6} {size:>11,}  {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
