"""Every domain names its own words in its `labels.py`, which is found without being listed: each
enum of a domain's models is named there, no word is named by two modules, and the registries
`service.core.labels` offers are exactly what the modules declare."""

from __future__ import annotations

import enum
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import service
from service.core import labels

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_MODELS = sorted(
    f"service.{path.parent.name}.models" for path in ROOT.glob("service/*/models.py")
)


def test_every_labels_py_is_discovered() -> None:
    files = sorted(path for path in ROOT.glob("service/*/labels.py") if path.parent.name != "core")
    assert len(files) > 5
    assert labels.label_modules() == [f"service.{path.parent.name}.labels" for path in files]


def test_a_new_domain_labels_py_is_found_without_editing_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, room in (("newdomain", "labels.py"), ("other", "models.py")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / room).write_text("")
    (tmp_path / "not_a_package.py").write_text("")
    monkeypatch.setattr(service, "__path__", [str(tmp_path)])
    assert labels.label_modules() == ["service.newdomain.labels"]


@pytest.mark.parametrize("models", DOMAIN_MODELS)
def test_each_enum_is_named_in_its_own_domain(models: str) -> None:
    module = importlib.import_module(models)
    enums = [
        found
        for _name, found in inspect.getmembers(module, inspect.isclass)
        if issubclass(found, enum.Enum) and found.__module__ == models
    ]
    if not enums:
        return
    domain = models.removesuffix(".models")
    assert f"{domain}.labels" in labels.label_modules(), f"{domain} has enums but no labels.py"
    named = importlib.import_module(f"{domain}.labels").LABELS
    for found in enums:
        assert found in named, f"{found.__name__} is not named in {domain}/labels.py"
        missing = {member.value for member in found} - set(named[found])
        assert not missing, f"{found.__name__} members without a name: {missing}"


def test_no_word_is_named_by_two_modules() -> None:
    owners: dict[tuple[str, object], list[str]] = {}
    for name in [labels.COMMON_MODULE, *labels.label_modules()]:
        for registry, words in labels.declared_by(importlib.import_module(name)).items():
            for key in words:
                owners.setdefault((registry, key), []).append(name)
    twice = {key: names for key, names in owners.items() if len(names) > 1}
    assert not twice


def test_gathering_refuses_a_word_named_twice() -> None:
    first, second = ModuleType("service.first.labels"), ModuleType("service.second.labels")
    first.FIELDS = {"amount": "Amount"}  # type: ignore[attr-defined]
    second.FIELDS = {"amount": "Sum"}  # type: ignore[attr-defined]
    assert labels.gather([first])["FIELDS"] == {"amount": "Amount"}
    with pytest.raises(ValueError, match="amount"):
        labels.gather([first, second])


def test_the_registries_are_what_the_modules_declare() -> None:
    for registry in labels.REGISTRIES:
        declared: dict[object, object] = {}
        for name in [labels.COMMON_MODULE, *labels.label_modules()]:
            declared.update(labels.declared_by(importlib.import_module(name))[registry])
        merged = getattr(labels, registry)
        assert merged.keys() == declared.keys(), registry
        assert all(merged[key] is declared[key] for key in declared), registry
