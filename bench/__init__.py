"""The benchmark suite: `make bench` (`python -m bench`).

Every figure is printed beside a baseline measured in the same run on the same machine, in
one table, and written to bench/results/<timestamp>.json and bench/results/latest.json.

A benchmark module other than web and importer exposes `run(database_url) -> dict`, where
`database_url` names the generated bench database (PostgreSQL). The dict it returns may hold
`"figures"`: a list of rows, each a dict with

    name      what is measured ("deadline scan", …)
    value     the figure (a number)
    unit      "s", "ms", "/s", "MB" …
    baseline  the bare figure it is compared with (a number, or None)
    baseline_name   what the baseline is ("bare SQL aggregate")
    target    the target, as text ("< 5 s")
    met       True / False / None

and anything else it wants kept in the JSON. bench/transitions.py keeps its own shape
(`measure_transitions`), which bench/__main__ reads as it is.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

#: The bench database, for a benchmark module run alone.
DEFAULT_BENCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tidtam_bench"


def run_alone(run: Callable[[str], dict[str, Any]]) -> None:
    """`python -m bench.<module> [DATABASE_URL]`: `run` on the given database (else
    BENCH_DATABASE_URL, else the bench database), its result printed as JSON."""
    url = (
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_URL)
    )
    print(json.dumps(run(url), indent=2, default=str))
