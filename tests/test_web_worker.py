"""The production web worker keeps the loaded app out of the garbage collector's full walks
(service/ops/web_worker.py); `tests/test_export_safety.py` serves through the same worker."""

from __future__ import annotations

import gc

from service.ops.web_worker import ProblemWorker, keep_loaded_app_out_of_gc


def test_what_the_loaded_app_holds_is_frozen() -> None:
    before = gc.get_freeze_count()
    try:
        keep_loaded_app_out_of_gc()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
    # The worker does it right after loading the app.
    assert "keep_loaded_app_out_of_gc" in ProblemWorker.load_wsgi.__code__.co_names
