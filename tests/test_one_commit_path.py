"""One commit path: no page or API handler commits a change of its own.

A page POST commits through `service.workflow.screens.committed` (which `run_change` and the
transition endpoint use); an API handler through `service.api.blueprint` (`@commits`,
`commit_or_remove`, `commit_then`). The operation checks permission, validates, mutates,
records and emits; the door only reads the input and answers. This reads (ast) every module
that declares routes, and every views.py and api.py, and fails on any `.commit(` call or
`session.commit` reference in them. A CLI command beside the routes (`@bp.cli.command`) is a
door of its own and commits once itself, as the architecture says."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"

#: path (relative to service/) -> why it may commit. Every entry needs its reason.
ALLOWED: dict[str, str] = {}

#: The one commit of a page and of an API request: functions allowed to commit, per module.
HOMES = {
    "workflow/screens.py": {"committed"},
    "api/blueprint.py": {"committing", "commit_or_remove", "commit_then"},
}


#: `@bp.route(...)` and its shortcuts (`@bp.post(...)`...).
ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}


def _declares_routes(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
                    return True
    return False


def _is_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`@bp.cli.command(...)`: a command-line door, which commits once itself."""
    for decorator in node.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (
            isinstance(call, ast.Attribute)
            and call.attr == "command"
            and isinstance(call.value, ast.Attribute)
            and call.value.attr == "cli"
        ):
            return True
    return False


def commits_in(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, function) of every `.commit` reference (a call or not) outside CLI commands."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if _is_command(node):
                return
            function = node.name
        if isinstance(node, ast.Attribute) and node.attr == "commit":
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def _doors() -> list[Path]:
    paths = []
    for path in sorted(SERVICE.rglob("*.py")):
        relative = path.relative_to(SERVICE).as_posix()
        if relative in HOMES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if path.name in ("views.py", "api.py") or _declares_routes(tree):
            paths.append(path)
    return paths


def test_the_allow_list_gives_a_reason_for_each_entry() -> None:
    for path, reason in ALLOWED.items():
        assert (SERVICE / path).is_file(), path
        assert len(reason.strip()) > 10, f"{path}: say why it may commit"


def test_the_check_sees_a_commit() -> None:
    code = (
        "def view():\n"
        "    db.session.commit()\n"
        "    keep = session.commit\n"
        "@bp.cli.command('x')\n"
        "def command():\n"
        "    db.session.commit()\n"
    )
    assert commits_in(ast.parse(code)) == [(2, "view"), (3, "view")]


def test_no_page_or_api_handler_commits_of_its_own() -> None:
    doors = _doors()
    names = {path.relative_to(SERVICE).as_posix() for path in doors}
    # The scan reaches the doors it must (a broken scan would pass on nothing).
    assert {
        "auth/views.py",
        "auth/account.py",
        "projects/api.py",
        "projects/plan_views.py",
        "api/transitions.py",
    } <= names
    problems = []
    for path in doors:
        relative = path.relative_to(SERVICE).as_posix()
        if relative in ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        problems += [f"{relative}:{line} in {function}" for line, function in commits_in(tree)]
    assert not problems, (
        "commit through run_change / screens.committed (pages) or @commits (API): "
        + ", ".join(problems)
    )


def test_the_commit_homes_commit_only_in_their_commit_functions() -> None:
    for relative, functions in HOMES.items():
        path = SERVICE / relative
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        places = commits_in(tree)
        assert places, relative
        assert {function for _line, function in places} <= functions, (relative, places)
