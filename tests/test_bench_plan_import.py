"""The annual-plan import's row of `make bench` still runs: `bench.plan_import.measure` at a
tiny size on a scratch SQLite file (the figure itself is measured by `make bench`)."""

from __future__ import annotations

from pathlib import Path

from bench import plan_import
from bench.__main__ import ALL, table


def test_the_plan_import_row_measures(tmp_path: Path) -> None:
    assert "plan_import" in ALL
    result = plan_import.measure(f"sqlite:///{tmp_path / 'plan.sqlite'}", 3)
    (row,) = result["figures"]
    assert result["rows"] == 3 * 8 and row["met"] is True
    assert "annual plan import" in table([row])
