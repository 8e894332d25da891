"""The framework's shape: stages import in one direction, modules never import each other in a
cycle (an import inside a function counts; ``if TYPE_CHECKING:`` imports do not), and no
module outgrows a file a reader can hold in mind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "integrations_pipeline"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
MAX_LINES = 400

# Lower stages never import higher ones; stages of the same rank never import each other.
RANKS = {
    "common": 0,
    "db": 1,
    "http": 1,
    "authoring": 2,
    "catalog": 3,
    "execution": 4,
    "findings": 5,
    "operations": 5,
    "orchestration": 6,
    # The public faces on top: the command line, the code location, the SDK and the test helper.
    "cli": 7,
    "definitions": 7,
    "sdk": 7,
    "testing": 7,
    "__init__": 7,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(module: str, tree: ast.AST, is_package: bool) -> set[str]:
    """Modules of the package that ``module`` imports anywhere in its code."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {
    name: _imported(name, ast.parse(path.read_text(encoding="utf-8")), path.name == "__init__.py")
    for name, path in MODULES.items()
}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_ranked_stage():
    assert {_stage(m) for m in MODULES} <= set(RANKS)


def test_no_import_cycle_between_modules():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
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
                cycles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            connect(name)
    assert not cycles, f"modules importing each other in a cycle: {cycles}"


def test_stages_import_only_downwards():
    wrong = [
        f"{module} ({_stage(module)}) imports {target} ({_stage(target)})"
        for module, targets in GRAPH.items()
        for target in targets
        if _stage(target) != _stage(module)
        and RANKS[_stage(target)] >= RANKS[_stage(module)]
        and RANKS[_stage(module)] < RANKS["cli"]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_cycle_check_sees_function_level_imports():
    late = ast.parse("def later():\n    from integrations_pipeline.cli import main\n")
    assert "integrations_pipeline.cli" in _imported("integrations_pipeline.common.x", late, False)
    guarded = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from integrations_pipeline.cli import main\n"
    )
    assert not _imported("integrations_pipeline.common.x", guarded, False)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if ".migrations" not in m))  # exempt
def test_no_module_outgrows_a_reader(module):
    path = MODULES[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT.parent)} has {lines} lines (at most {MAX_LINES})"
