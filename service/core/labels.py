"""What each enum value, object type, audit action and input is called on screen, gathered from
the domains (English msgids, Thai in the catalog).

A domain names its own words in `service/<domain>/labels.py`: any of `LABELS` (its enums'
members by value), `OBJECT_TYPES` (its audited objects), `ACTIONS` (its audit actions and
notification kinds that no workflow table names) and `FIELDS` (the form labels of its inputs).
`label_modules()` finds those files by walking the domain packages, nobody lists them by hand;
the words no single domain owns are in `service.core.common_labels`. A key declared twice is an
error when this module is imported, so two domains cannot quietly name one word differently.

Templates use the ``label`` filter (``{{ project.state|label }}``); exports call :func:`label`.
A workflow's states, transitions and kind are named through `service.workflow.registry`,
which reads its state names from here.
A value without an entry shows as itself, so a new enum member is visible (and caught by the
translation test) rather than hidden.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Hashable, Iterable, Mapping
from types import ModuleType
from typing import Any

from flask_babel.speaklater import LazyString

from service.core.rooms import domain_modules

#: The registries a labels module may declare, each merged over every module into the one below.
REGISTRIES = ("LABELS", "OBJECT_TYPES", "ACTIONS", "FIELDS")
#: The words shared by the domains, declared once in core.
COMMON_MODULE = "service.core.common_labels"


def label_modules() -> list[str]:
    """The modules naming a domain's words: `service.<domain>.labels` for every domain."""
    return domain_modules("labels")


def declared_by(module: ModuleType) -> dict[str, Mapping[Hashable, Any]]:
    """The registries `module` declares, by name (an absent one as empty)."""
    return {name: getattr(module, name, {}) for name in REGISTRIES}


def gather(modules: Iterable[ModuleType]) -> dict[str, dict[Any, Any]]:
    """The registries of `modules` merged, by name.

    Raises ValueError when two modules declare the same key of one registry."""
    merged: dict[str, dict[Any, Any]] = {name: {} for name in REGISTRIES}
    owner: dict[tuple[str, Hashable], str] = {}
    for module in modules:
        for registry, words in declared_by(module).items():
            for key, value in words.items():
                first = owner.setdefault((registry, key), module.__name__)
                if first != module.__name__:
                    raise ValueError(
                        f"{registry}[{key!r}] is declared by {first} and {module.__name__}"
                    )
                merged[registry][key] = value
    return merged


_merged = gather(importlib.import_module(name) for name in [COMMON_MODULE, *label_modules()])

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = _merged["LABELS"]
#: Object types of audit entries, as the audit trail names them.
OBJECT_TYPES: dict[str, LazyString] = _merged["OBJECT_TYPES"]
#: The audit actions and notification kinds that are not a transition of a workflow table (the
#: tables name their own transitions: `action_label`).
ACTIONS: dict[str, LazyString] = _merged["ACTIONS"]
#: The labels of the inputs that refusals name (`Refused.fields`), as the forms call them.
FIELDS: dict[str, LazyString] = _merged["FIELDS"]


def label(value: object) -> str:
    """The on-screen name of an enum member in the current language; anything else as text."""
    if isinstance(value, enum.Enum):
        found = LABELS.get(type(value), {}).get(str(value.value))
        if found is not None:
            return str(found)
        return str(value.value)
    return "" if value is None else str(value)


def object_type_label(value: str) -> str:
    """The on-screen name of an audited object type (``"allocation"`` → Allocation)."""
    found = OBJECT_TYPES.get(value)
    return str(found) if found is not None else value


def action_label(value: str) -> str:
    """The on-screen name of an audit action or notification kind (``"allocation.endorse"``
    → Endorse, ``"deadline.step_overdue"`` → Step overdue); an unknown one as itself."""
    found = ACTIONS.get(value)
    if found is not None:
        return str(found)
    from service.core.translate import current
    from service.workflow.registry import kind_label, transition_label, workflows

    prefix, _dot, name = value.partition(".")
    workflow = workflows().get(prefix)
    if workflow is not None and any(t.name == name for t in workflow.transitions):
        return f"{kind_label(prefix)}: {transition_label(prefix, name, current())}"
    return value


def field_label(name: str) -> str:
    """What the form calls input `name`; an unknown one as itself."""
    found = FIELDS.get(name)
    return str(found) if found is not None else name
