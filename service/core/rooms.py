"""The domains' rooms, found by walking the packages under `service/`, so that a room a domain
adds (its `workflow.py`, its `labels.py`) is picked up without being listed anywhere."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import service


def domain_modules(room: str) -> list[str]:
    """`service.<domain>.<room>` for every package under `service/` (core, the shared ground,
    aside) that has a `<room>.py`, sorted."""
    root = Path(next(iter(service.__path__)))
    return sorted(
        f"service.{found.name}.{room}"
        for found in pkgutil.iter_modules([str(root)])
        if found.ispkg and found.name != "core" and (root / found.name / f"{room}.py").is_file()
    )
