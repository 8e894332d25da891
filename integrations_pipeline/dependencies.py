"""Which tasks a task reads, from its ``ctx.get_data("x")`` style calls (static analysis)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from integrations_pipeline.errors import TaskDefinitionError
from integrations_pipeline.tasks import TaskDef

DATA_CALLS = frozenset({"get_data", "get_message"})
STATUS_CALLS = frozenset({"succeeded"})


@lru_cache(maxsize=4096)
def _parse(file: str, mtime_ns: int) -> ast.Module | None:
    try:
        with open(file, encoding="utf-8") as handle:
            return ast.parse(handle.read(), filename=file)
    except (OSError, SyntaxError):
        return None


def _function_node(fn: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    import os

    file = fn.__code__.co_filename
    try:
        tree = _parse(file, os.stat(file).st_mtime_ns)
    except OSError:
        return None
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == fn.__name__:
            return node
    return None


def referenced_tasks(fn: Callable[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tasks whose data or message ``fn`` reads, tasks it only asks ``succeeded`` about)."""
    node = _function_node(fn)
    if node is None:
        return (), ()
    data: dict[str, None] = {}
    status: dict[str, None] = {}
    for call in ast.walk(node):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            continue
        if call.func.attr in DATA_CALLS:
            data[call.args[0].value] = None
        elif call.func.attr in STATUS_CALLS:
            status[call.args[0].value] = None
    status_only = tuple(name for name in status if name not in data)
    return tuple(data), status_only


def resolve_dependencies(task_defs: Sequence[TaskDef]) -> list[TaskDef]:
    """Attach data and status dependencies to each task and check they make sense."""
    by_name = {t.name: t for t in task_defs}
    resolved = []
    for task_def in task_defs:
        data, status = referenced_tasks(task_def.fn)
        data = tuple(dict.fromkeys((*data, *task_def.spec.depends_on)))
        status = tuple(name for name in status if name not in data)
        for name in (*data, *status):
            _check_reference(task_def, name, by_name, reads_data=name in data)
        resolved.append(replace(task_def, data_deps=data, status_deps=status))
    _check_no_cycles(resolved)
    return resolved


def _check_reference(
    task_def: TaskDef, name: str, by_name: Mapping[str, TaskDef], *, reads_data: bool
) -> None:
    target = by_name.get(name)
    if name == task_def.name:
        problem = "reads its own data"
    elif target is None:
        problem = f"reads task '{name}', which this integration does not define"
    elif target.is_insight and reads_data:
        problem = f"reads the data of insight '{name}'; tasks can read only collectors' data"
    else:
        return
    raise TaskDefinitionError(
        problem, integration=task_def.integration, task=task_def.name, file=task_def.file
    )


def _check_no_cycles(task_defs: Sequence[TaskDef]) -> None:
    deps = {t.name: set(t.data_deps) for t in task_defs}
    files = {t.name: t for t in task_defs}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " -> ".join((*path[path.index(name) :], name))
            task_def = files[name]
            raise TaskDefinitionError(
                f"collectors read each other in a cycle: {cycle}",
                integration=task_def.integration,
                task=name,
                file=task_def.file,
            )
        visiting.add(name)
        for dep in deps.get(name, ()):
            visit(dep, (*path, name))
        visiting.discard(name)
        done.add(name)

    for name in deps:
        visit(name, ())
