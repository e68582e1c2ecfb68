"""Every test under tests/browser drives Chromium: marked `browser` however its file is
written, so that the PostgreSQL run (`-m 'not browser'`) leaves all of them to the SQLite run
rather than running three journeys twice."""

from __future__ import annotations

from pathlib import Path

import pytest

# The database each module's server copies (made once a run), for every module of the folder.
from tests.browser.test_journeys import demo_file  # noqa: F401

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)
