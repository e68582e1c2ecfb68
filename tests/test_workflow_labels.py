"""Every workflow is found without being listed, and everything a workflow shows has a name in
Thai and in English, from one registry: its kind, each state, each transition."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from service.budget.models import AllocationState
from service.core.labels import label
from service.projects.models import ProjectState, ResultState
from service.workflow import registry, screens

ROOT = Path(__file__).resolve().parent.parent
THAI = re.compile("[\u0e01-\u0e5b]")
LATIN = re.compile("[A-Za-z]")
TABLES = registry.workflows()


def test_every_workflow_py_is_discovered() -> None:
    files = sorted(ROOT.glob("service/*/workflow.py"))
    assert files
    assert registry.workflow_modules() == [f"service.{path.parent.name}.workflow" for path in files]
    modules = {workflow.transitions[0].who.__module__ for workflow in TABLES.values()}
    assert modules == set(registry.workflow_modules())


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_kind_and_states_are_named_in_both_languages(kind: str, app: Flask) -> None:
    workflow = TABLES[kind]
    assert set(workflow.states) == {member.value for member in registry.state_enum(workflow)}
    names: dict[str, dict[str, str]] = {}
    for language in ("en", "th"):
        with app.test_request_context(f"/?lang={language}"):
            found = {state: registry.state_label(kind, state) for state in workflow.states}
            found["(kind)"] = registry.kind_label(kind)
        names[language] = found
    for key, english in names["en"].items():
        thai = names["th"][key]
        assert english != key, f"{kind} {key} has no name"
        assert LATIN.search(english), f"{kind} {key}: English name {english!r}"
        assert THAI.search(thai), f"{kind} {key}: no Thai name (got {thai!r})"


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_every_transition_is_named_in_both_languages(kind: str) -> None:
    for transition in TABLES[kind].transitions:
        thai = registry.transition_label(kind, transition.name, "th")
        english = registry.transition_label(kind, transition.name, "en")
        assert THAI.search(thai), f"{kind}.{transition.name}: Thai name {thai!r}"
        assert LATIN.search(english), f"{kind}.{transition.name}: English name {english!r}"


def test_the_work_screens_and_the_history_name_a_state_alike(app: Flask) -> None:
    """One source of state names: the badge on a work screen and the history row agree,
    and a submitted result is not called what a submitted plan is."""
    with app.test_request_context("/?lang=en"):
        _same_names()


def _same_names() -> None:
    for member, kind in (
        (ProjectState.SUBMITTED, "project"),
        (ResultState.SUBMITTED, "step_result"),
        (AllocationState.SUBMITTED, "allocation"),
    ):
        assert screens.state_name(member) == registry.state_label(kind, member.value)
        assert screens.state_name(member) == label(member)
    assert screens.state_name(ResultState.SUBMITTED) == "Submitted for review"
    assert screens.state_name(AllocationState.SUBMITTED) == "Awaiting approval"
