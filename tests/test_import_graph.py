"""The server's import graph: no cycles, and the layers point one way.

Read from the source (``ast``), so an import inside a function counts as much
as one at the top: a lazy import still ties two modules together. Imports
under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chalicelib"

# What the DynamoDB layer (db/) may import of ours: itself and the modules below every layer.
DB_MAY_IMPORT = {"chalicelib.db", "chalicelib.aws", "chalicelib.errors"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # `from pkg import module`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of ours it imports, with the packages whose ``__init__`` that runs."""
    paths = {_module_name(p): p for p in (ROOT / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        edges: set[str] = set()
        for name in _imported(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            parts = name.split(".")
            for end in range(2, len(parts) + 1):
                target = ".".join(parts[:end])
                # A module importing its own package (a sibling) meets a package already under way.
                if target in paths and target != module and not module.startswith(target + "."):
                    edges.add(target)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_server_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_db_layer_imports_nothing_above_it():
    upward = {module: sorted(t for t in targets if not any(t == a or t.startswith(a + ".") for a in DB_MAY_IMPORT))
              for module, targets in import_graph().items() if module.startswith(PACKAGE + ".db")}
    assert {m: t for m, t in upward.items() if t} == {}


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_a_cycle_is_found_wherever_it_is(graph, expected):
    assert cycles(graph) == expected


def test_a_lazy_import_counts_and_a_type_checking_one_does_not():
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chalicelib import deps\n"
              "def f():\n    from chalicelib.db import table\n")
    assert _imported(ast.parse(source), "chalicelib.x", False) == {
        "typing", "typing.TYPE_CHECKING", "chalicelib.db", "chalicelib.db.table"}
