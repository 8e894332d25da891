"""Which tasks a task reads, from its ``ctx.get_data("x")`` style calls.

Read off the function's bytecode (calls on the task's ``ctx`` parameter whose first argument
is a string literal), including nested functions and comprehensions: no source file is read.
"""

from __future__ import annotations

import dis
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import CodeType
from typing import Any

from integrations_pipeline.authoring.tasks import TaskDef
from integrations_pipeline.common.errors import TaskDefinitionError

DATA_CALLS = frozenset({"get_data", "get_message"})
STATUS_CALLS = frozenset({"succeeded"})
_CALLS = DATA_CALLS | STATUS_CALLS
_ATTRIBUTE_OPS = frozenset({"LOAD_METHOD", "LOAD_ATTR"})
_LOAD_NAME_OPS = frozenset({"LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE"})


def _calls(code: CodeType, ctx: str) -> list[tuple[str, str]]:
    """(method, literal first argument) for every ``ctx.method("literal", ...)`` in ``code``."""
    found: list[tuple[str, str]] = []
    if _CALLS.intersection(code.co_names):
        pending: str | None = None
        receiver: str | None = None
        for instruction in dis.get_instructions(code):
            if instruction.opname in _ATTRIBUTE_OPS and instruction.argval in _CALLS and receiver == ctx:
                pending = instruction.argval
                receiver = None
            elif instruction.opname in _LOAD_NAME_OPS:
                receiver = instruction.argval
                pending = None
            elif pending and instruction.opname == "LOAD_CONST" and isinstance(instruction.argval, str):
                found.append((pending, instruction.argval))
                pending = None
            elif instruction.opname not in ("PRECALL", "PUSH_NULL", "CACHE", "EXTENDED_ARG"):
                pending = None
                receiver = None
    for const in code.co_consts:
        if isinstance(const, CodeType):
            found.extend(_calls(const, ctx))
    return found


def referenced_tasks(fn: Callable[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tasks whose data or message ``fn`` reads, tasks it only asks ``succeeded`` about)."""
    data: dict[str, None] = {}
    status: dict[str, None] = {}
    code = getattr(fn, "__code__", None)
    if code is None or code.co_argcount < 2:
        return (), ()
    # Tasks are `def fn(self, ctx)`: only calls on the context parameter count.
    ctx = code.co_varnames[1]
    for method, name in _calls(code, ctx):
        (data if method in DATA_CALLS else status)[name] = None
    return tuple(data), tuple(name for name in status if name not in data)


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
    elif target.is_insight:
        problem = f"asks about insight '{name}'; tasks can read only collectors' data and status"
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
