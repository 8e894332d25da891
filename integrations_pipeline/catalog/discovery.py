"""Find integrations: read integrations.json, import each integration, collect its tasks.

Rules: ``integrations/<name>/entry.py`` defines ``Runner``; tasks live in
``collectors/*.py``, ``insights/*.py`` (and the older ``tasks/*.py``); modules whose name
starts with ``_`` are skipped; nothing is imported for an integration that is disabled or
was not asked for. A broken integration becomes a :class:`LoadProblem`, never an exception
that takes the others down.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations_pipeline.authoring.runner import BaseRunner
from integrations_pipeline.authoring.tasks import REGISTRY, TASK_MARKER, TaskDef, TaskRegistry, TaskSpec
from integrations_pipeline.catalog.dependencies import resolve_dependencies
from integrations_pipeline.catalog.entries import IntegrationEntry, LoadProblem, parse_entry, read_entries
from integrations_pipeline.catalog.import_guard import (
    IMPORT_TIMEOUT_ENV,
    ImportExit,
    ImportTimeout,
    guarded_import,
    import_timeout,
)
from integrations_pipeline.common.errors import (
    IntegrationConfigError,
    IntegrationError,
    IntegrationLoadError,
    TaskDefinitionError,
)
from integrations_pipeline.common.paths import project_dir

TASK_FOLDERS = {"collectors": "collector", "insights": "insight", "tasks": None}


@dataclass
class Integration:
    """A loaded integration: its entry, Runner class and enabled tasks in execution order."""

    entry: IntegrationEntry
    folder: Path
    runner_cls: type[BaseRunner]
    all_tasks: dict[str, TaskDef]
    unrunnable: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def schema(self) -> dict[str, Any]:
        return self.entry.config_schema

    @property
    def tasks(self) -> dict[str, TaskDef]:
        return {n: t for n, t in self.all_tasks.items() if t.spec.enabled and n not in self.unrunnable}

    @property
    def collectors(self) -> list[TaskDef]:
        return [t for t in self.tasks.values() if not t.is_insight]

    @property
    def insights(self) -> list[TaskDef]:
        return [t for t in self.tasks.values() if t.is_insight]


@dataclass
class Catalog:
    """Everything discovery found: entries, loaded integrations and problems."""

    entries: list[IntegrationEntry] = field(default_factory=list)
    integrations: dict[str, Integration] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)

    def problems_of(self, name: str) -> list[LoadProblem]:
        return [p for p in self.problems if p.integration == name]


IntegrationLoader = Callable[[IntegrationEntry, Path], Integration]


def load_catalog(
    project: Path | None = None,
    *,
    only: Iterable[str] | None = None,
    include_disabled: bool = False,
    loader: IntegrationLoader | None = None,
) -> Catalog:
    """Read integrations.json below ``project`` and load its enabled integrations.

    Args:
        project: Folder with integrations.json and integrations/ (default: ``project_dir()``).
        only: Load only these integrations (the others are still listed as entries).
        include_disabled: Also import disabled integrations (to validate or list them).
        loader: How to load one integration (default :func:`load_integration`, which imports it).
    """
    loader = loader or load_integration
    project = project or project_dir()
    catalog = Catalog()
    wanted = set(only) if only is not None else None
    integrations_dir = project / "integrations"
    raw_entries = read_entries(project / "integrations.json", catalog.problems)
    seen: set[str] = set()
    listed = {raw.get("name") for raw in raw_entries if isinstance(raw, dict)}
    for index, raw in enumerate(raw_entries):
        entry = parse_entry(index, raw, catalog.problems)
        if entry is None:
            continue
        if entry.name in seen:
            catalog.problems.append(LoadProblem(entry.name, "appears twice in integrations.json"))
            continue
        seen.add(entry.name)
        catalog.entries.append(entry)
        if (not entry.enabled and not include_disabled) or (wanted is not None and entry.name not in wanted):
            continue
        try:
            catalog.integrations[entry.name] = loader(entry, integrations_dir)
        except IntegrationError as error:
            message = error.detail() if error.integration == entry.name else str(error)
            catalog.problems.append(LoadProblem(entry.name, message, _cause(error)))
    if integrations_dir.is_dir():
        for folder in sorted(integrations_dir.iterdir()):
            if _is_integration_folder(folder) and folder.name not in listed:
                catalog.problems.append(
                    LoadProblem(folder.name, f"folder {folder} has no entry in integrations.json")
                )
    return catalog


def _cause(error: BaseException) -> str | None:
    cause = error.__cause__
    if cause is None:
        return None
    return "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))


def _is_integration_folder(folder: Path) -> bool:
    return folder.is_dir() and not folder.name.startswith(("_", ".")) and (folder / "entry.py").exists()


def package_for(directory: Path) -> str:
    """The dotted package name of ``directory``, putting its import root on ``sys.path``."""
    directory = directory.resolve()
    parts = [directory.name]
    parent = directory.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        parent = parent.parent
    if str(parent) not in sys.path:
        sys.path.insert(0, str(parent))
    top = sys.modules.get(parts[0])
    top_paths = [Path(p).resolve() for p in getattr(top, "__path__", [])]
    if top is not None and (parent / parts[0]).resolve() not in top_paths:
        raise IntegrationLoadError(
            f"cannot import integrations from {directory}: the package name '{parts[0]}' is already "
            f"taken by {top_paths[0] if top_paths else top}; add an __init__.py to its parent folder "
            "so the two get different package names"
        )
    return ".".join(parts)


def load_integration(entry: IntegrationEntry, integrations_dir: Path) -> Integration:
    """Import one integration's Runner and tasks; errors name the integration and file."""
    folder = integrations_dir / entry.name
    if not folder.is_dir():
        raise IntegrationLoadError(f"no folder {folder}", integration=entry.name)
    entry_file = folder / "entry.py"
    if not entry_file.exists():
        raise IntegrationLoadError("entry.py is missing", integration=entry.name, file=str(entry_file))
    package = f"{package_for(integrations_dir)}.{entry.name}"
    module = _import(f"{package}.entry", entry.name, entry_file)
    runner_cls = getattr(module, "Runner", None)
    if not (isinstance(runner_cls, type) and issubclass(runner_cls, BaseRunner)):
        raise IntegrationLoadError(
            "entry.py must define class Runner(BaseRunner)",
            integration=entry.name,
            file=str(entry_file),
        )
    if runner_cls.name != entry.name:
        raise IntegrationLoadError(
            f"Runner.name is {runner_cls.name!r} but the folder and integrations.json say {entry.name!r}",
            integration=entry.name,
            file=str(entry_file),
        )
    tasks = load_tasks(entry.name, package, folder)
    return Integration(
        entry=entry,
        folder=folder,
        runner_cls=runner_cls,
        all_tasks=tasks,
        unrunnable=unrunnable_tasks(tasks.values()),
    )


def _import(module_name: str, integration: str, file: Path) -> Any:
    try:
        with guarded_import():
            return importlib.import_module(module_name)
    except IntegrationError:
        raise
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        if isinstance(error, ImportTimeout):
            detail = f"it ran past {import_timeout():g} s ({IMPORT_TIMEOUT_ENV}); a loop at import time?"
        elif isinstance(error, ImportExit | SystemExit):
            code = error.code
            detail = f"it tried to end the process (exit code {code}); an integration must not exit"
        else:
            detail = f"{type(error).__name__}: {error}"
        raise IntegrationLoadError(
            f"cannot import {file.name}: {detail}", integration=integration, file=str(file)
        ) from error


TaskReader = Callable[[Path], list[TaskDef]]


def load_tasks(
    integration: str, package: str, folder: Path, reader: TaskReader | None = None
) -> dict[str, TaskDef]:
    """Import the task modules of one integration and register its tasks, in execution order.

    ``reader``: read each module's tasks some other way (from its source, for listing); they
    are then checked the same way but not registered.
    """
    registry = TaskRegistry()
    for sub, expected_type in TASK_FOLDERS.items():
        directory = folder / sub
        if not directory.is_dir():
            continue
        for file in sorted(directory.glob("*.py")):
            if file.name.startswith("_"):
                continue
            if reader is not None:
                found = reader(file)
            else:
                module = _import(f"{package}.{sub}.{file.stem}", integration, file)
                found = _tasks_in(module, integration, str(file))
            for task_def in found:
                if expected_type and task_def.spec.type != expected_type:
                    raise TaskDefinitionError(
                        f"is a {task_def.spec.type} but lives in {sub}/; "
                        f"put it in {task_def.spec.type}s/ or set type='{expected_type}'",
                        integration=integration,
                        task=task_def.name,
                        file=str(file),
                    )
                registry.register(task_def)
    ordered = sorted(
        resolve_dependencies(list(registry.tasks(integration).values())),
        key=lambda t: (t.is_insight, t.spec.order, t.name),
    )
    if reader is None:
        REGISTRY.replace(integration, ordered)
    return {t.name: t for t in ordered}


def _tasks_in(module: Any, integration: str, file: str) -> list[TaskDef]:
    found = []
    for value in vars(module).values():
        spec = getattr(value, TASK_MARKER, None)
        if isinstance(spec, TaskSpec) and getattr(value, "__module__", None) == module.__name__:
            found.append(TaskDef(integration=integration, spec=spec, fn=value, file=file))
    return found


def unrunnable_tasks(task_defs: Iterable[TaskDef]) -> dict[str, str]:
    """Enabled tasks that cannot run because a task whose data they read is disabled."""
    task_defs = list(task_defs)
    runnable = {t.name for t in task_defs if t.spec.enabled}
    reasons: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for task_def in task_defs:
            if task_def.name not in runnable:
                continue
            missing = [dep for dep in task_def.data_deps if dep not in runnable]
            if missing:
                runnable.discard(task_def.name)
                reasons[task_def.name] = (
                    f"reads the data of {', '.join(repr(m) for m in missing)}, which will not run "
                    "(disabled); it is left out of the job"
                )
                changed = True
    return reasons


def load_tasks_for_runner(runner_cls: type[BaseRunner]) -> dict[str, TaskDef]:
    """The tasks of ``runner_cls``'s integration, loading them from its folder if needed."""
    name = runner_cls.name
    if REGISTRY.has(name):
        return REGISTRY.tasks(name)
    package = runner_cls.__module__.rpartition(".")[0]
    module = sys.modules.get(package) or importlib.import_module(package)
    folder = (
        Path(module.__file__ or "").parent
        if getattr(module, "__file__", None)
        else Path(next(iter(module.__path__)))
    )
    return load_tasks(name, package, folder)


def register_tasks(runner_cls: type[BaseRunner]) -> None:
    """Bind the integration's discovered ``@task`` functions to ``runner_cls.StageTwo``.

    Loads the integration's collectors and insights if discovery has not done so yet, so a
    Runner can also be used on its own.
    """
    task_defs = load_tasks_for_runner(runner_cls)
    stage_two = runner_cls.__dict__.get("StageTwo")
    if stage_two is None:
        # The Runner inherits BaseRunner.StageTwo: give it its own class so tasks of one
        # integration are never bound onto another's.
        stage_two = type("StageTwo", (runner_cls.StageTwo,), {})
        setattr(runner_cls, "StageTwo", stage_two)  # noqa: B010 - assigning a nested class
    for task_def in task_defs.values():
        setattr(stage_two, task_def.name, task_def.fn)


def check_task_names(integration: Integration, tasks: Iterable[str]) -> None:
    """The config's ``tasks`` must name runnable tasks, with the collectors they read or ask
    ``ctx.succeeded()`` about: an insight never judges collectors the config left out."""
    tasks = tuple(tasks)
    for name in tasks:
        if name in integration.tasks:
            continue
        if name in integration.all_tasks:
            why = integration.unrunnable.get(name, "it is disabled (enabled=False)")
            raise IntegrationConfigError(
                f"config field 'tasks' names '{name}', but {why}", integration=integration.name
            )
        raise IntegrationConfigError(
            f"config field 'tasks' names '{name}', which is not a task of this integration "
            f"(tasks: {', '.join(integration.tasks) or 'none'})",
            integration=integration.name,
        )
    for name in tasks:
        task_def = integration.tasks[name]
        # A status dependency on a disabled collector is not in the job either way: the
        # insight sees False, as it does when every task runs.
        reads = [d for d in task_def.data_deps if d not in tasks]
        asks = [d for d in task_def.status_deps if d in integration.tasks and d not in tasks]
        if reads or asks:
            missing = [f"{', '.join(repr(m) for m in reads)}, whose data it reads"] if reads else []
            if asks:
                missing.append(f"{', '.join(repr(m) for m in asks)}, whose success it asks about")
            raise IntegrationConfigError(
                f"config field 'tasks' names '{name}' but not {', nor '.join(missing)}; "
                "add them so it can run",
                integration=integration.name,
            )
