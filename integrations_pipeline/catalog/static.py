"""Integrations read from their source instead of imported: for listing them.

An integration's modules may import heavy libraries at their top (boto3 takes 0.3 s), and
listing should not pay for them. Here each task module is parsed and compiled, never run:
the ``@task`` arguments are read off the syntax tree (they are literals in the authoring
guide), and which collectors a task reads off its compiled code, as discovery reads it off
the imported function. The tasks are checked exactly as discovery checks them.

A module that cannot be read this way (an argument that is not a literal, ``task`` used
other than as a decorator, a Runner that is not a plain class) makes the whole integration
load by import instead, so the listing is never wrong, only slower.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path
from typing import Any

from integrations_pipeline.authoring.runner import BaseRunner
from integrations_pipeline.authoring.tasks import TASK_PARAMETERS, TaskDef, make_spec
from integrations_pipeline.catalog.discovery import (
    Integration,
    load_integration,
    load_tasks,
    unrunnable_tasks,
)
from integrations_pipeline.catalog.entries import IntegrationEntry
from integrations_pipeline.common.errors import IntegrationLoadError


class NeedsImport(Exception):
    """This source cannot be read without running it."""


def read_integration(entry: IntegrationEntry, integrations_dir: Path) -> Integration:
    """``entry``'s integration read from its source; imported instead when that cannot be done.

    The integration's ``runner_cls`` is :class:`BaseRunner` itself: nothing was imported.
    """
    folder = integrations_dir / entry.name
    entry_file = folder / "entry.py"
    try:
        if not entry_file.exists():
            raise NeedsImport  # discovery words the error
        _check_runner(entry, entry_file)
        tasks = load_tasks(entry.name, "", folder, reader=lambda file: read_tasks(entry.name, file))
    except NeedsImport:
        return load_integration(entry, integrations_dir)
    return Integration(
        entry=entry,
        folder=folder,
        runner_cls=BaseRunner,
        all_tasks=tasks,
        unrunnable=unrunnable_tasks(tasks.values()),
    )


def _parse(file: Path, integration: str) -> ast.Module:
    try:
        return ast.parse(file.read_bytes(), filename=str(file))
    except (SyntaxError, ValueError, OSError) as error:
        raise IntegrationLoadError(
            f"cannot import {file.name}: {type(error).__name__}: {error}",
            integration=integration,
            file=str(file),
        ) from error


def _check_runner(entry: IntegrationEntry, entry_file: Path) -> None:
    """``class Runner`` with ``name = "<literal>"`` matching the entry; otherwise let import judge."""
    tree = _parse(entry_file, entry.name)
    runner = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Runner"), None)
    if runner is None:
        raise NeedsImport
    names = [
        statement.value
        for statement in runner.body
        if isinstance(statement, ast.Assign)
        and [t.id for t in statement.targets if isinstance(t, ast.Name)] == ["name"]
    ]
    if len(names) != 1 or not isinstance(names[0], ast.Constant) or not isinstance(names[0].value, str):
        raise NeedsImport
    if names[0].value != entry.name:
        raise IntegrationLoadError(
            f"Runner.name is {names[0].value!r} but the folder and integrations.json say {entry.name!r}",
            integration=entry.name,
            file=str(entry_file),
        )


def _is_task(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "task") or (
        isinstance(node, ast.Attribute) and node.attr == "task"
    )


def read_tasks(integration: str, file: Path) -> list[TaskDef]:
    """The tasks a module declares, read from its source."""
    file = file.resolve()  # as the imported function's code names it
    tree = _parse(file, integration)
    calls = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call) and _is_task(node.func))
    decorated: list[tuple[ast.FunctionDef, dict[str, Any]]] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and _is_task(decorator.func):
                decorated.append((node, _arguments(decorator)))
            elif _is_task(decorator):
                raise NeedsImport
    if calls != len(decorated) or len({node.name for node, _ in decorated}) != len(decorated):
        raise NeedsImport  # task(...) used some other way, or two tasks share a function name
    code = compile(tree, str(file), "exec", dont_inherit=True)
    functions = {c.co_name: c for c in code.co_consts if isinstance(c, types.CodeType)}
    found = []
    for node, arguments in decorated:
        doc = ast.get_docstring(node)
        spec = make_spec(file, doc.strip().splitlines()[0] if doc else None, **arguments)
        # A function object around the compiled code: never called, only read for its calls.
        fn = types.FunctionType(functions[node.name], {})
        found.append(TaskDef(integration=integration, spec=spec, fn=fn, file=str(file)))
    return found


def _arguments(call: ast.Call) -> dict[str, Any]:
    if len(call.args) > len(TASK_PARAMETERS) or any(k.arg is None for k in call.keywords):
        raise NeedsImport
    pairs = [*zip(TASK_PARAMETERS, call.args, strict=False), *((k.arg, k.value) for k in call.keywords)]
    arguments = {}
    for name, value in pairs:
        if name not in TASK_PARAMETERS:
            raise NeedsImport  # an unknown argument: importing reports it as Python does
        try:
            arguments[name] = ast.literal_eval(value)
        except ValueError:
            raise NeedsImport from None
    return arguments
