"""Every workflow table, discovered, and what a workflow shows: its kind, its states and its
transitions, each in the current language.

A domain adds a workflow by writing `service/<domain>/workflow.py` with a table passed to
`engine.register`; `workflows()` finds it by walking the domain packages, nobody lists it by
hand. The words come from one place each: state names from `service.core.labels.LABELS`
(keyed by the model's state enum, so a "submitted" project and a "submitted" result may be
named differently), kind names from `service.core.labels.OBJECT_TYPES` (the audit trail's
names for object types), both declared in the domain's `labels.py`; transition names from the
table's own (Thai, English) pair.
"""

from __future__ import annotations

import enum
import importlib

from sqlalchemy import inspect as sa_inspect

from service.core.labels import LABELS, OBJECT_TYPES
from service.core.rooms import domain_modules
from service.workflow.engine import REGISTRY, Workflow

_discovered = False


def workflow_modules() -> list[str]:
    """The modules holding workflow tables: `service.<domain>.workflow` for every domain."""
    return domain_modules("workflow")


def workflows() -> dict[str, Workflow]:
    """Every workflow by name (its kind: "project", "step_result", "allocation", …)."""
    global _discovered
    if not _discovered:
        for module in workflow_modules():
            importlib.import_module(module)  # each registers its table with the engine
        _discovered = True
    return REGISTRY


def state_enum(workflow: Workflow) -> type[enum.Enum]:
    """The enum of the workflow's `state` column."""
    found: type[enum.Enum] = sa_inspect(workflow.model).columns["state"].type.enum_class
    return found


def state_label(kind: str, value: object) -> str:
    """The name of state `value` of a `kind` object in the current language (the value itself
    when the kind or the state is unknown, so a gap shows rather than hides)."""
    if value is None:
        return ""
    text = str(getattr(value, "value", value))
    workflow = workflows().get(kind)
    found = LABELS.get(state_enum(workflow), {}).get(text) if workflow is not None else None
    return str(found) if found is not None else text


def transition_label(kind: str, name: str, language: str) -> str:
    """The name of transition `name` of the `kind` workflow in `language` ("th" or "en")."""
    thai, english = workflows()[kind].transition(name).label
    return english if language == "en" else thai


def kind_label(kind: str) -> str:
    """What an object of the `kind` workflow is called ("allocation" → Allocation)."""
    found = OBJECT_TYPES.get(kind)
    return str(found) if found is not None else kind
