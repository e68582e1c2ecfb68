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
