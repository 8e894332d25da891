"""The ``@task`` decorator, task metadata and the registry of discovered tasks."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from integrations_pipeline.common.errors import TaskDefinitionError

TaskType = Literal["collector", "insight"]
Severity = Literal["low", "medium", "high", "critical"]

# Letters, digits and single underscores: op names join integration and task with "__".
TASK_NAME_PATTERN = re.compile(r"(?=.{1,64}\Z)[a-z][a-z0-9]*(_[a-z0-9]+)*")
DEFAULT_ORDER = {"collector": 100, "insight": 500}
DEFAULT_SEVERITY: Severity = "medium"

# The attribute `@task` sets on the decorated function; discovery looks for it.
TASK_MARKER = "__integration_task__"


class TaskSpec(BaseModel):
    """What the ``@task`` decorator declares, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str | None = None
    description: str | None = None
    type: TaskType = "collector"
    severity: Severity | None = None
    order: int | None = None
    enabled: bool = True
    depends_on: tuple[str, ...] = Field(default_factory=tuple)

    @field_validator("name")
    @classmethod
    def _name_fits(cls, value: str) -> str:
        if not TASK_NAME_PATTERN.fullmatch(value):
            raise ValueError(
                f"task name {value!r} does not fit: use lower-case letters, digits and single "
                "underscores, starting with a letter, at most 64 characters"
            )
        return value

    @model_validator(mode="after")
    def _defaults_by_type(self) -> TaskSpec:
        if self.type == "collector" and self.severity is not None:
            raise ValueError("severity is for insights only; a collector has no severity")
        updates: dict[str, Any] = {}
        if self.order is None:
            updates["order"] = DEFAULT_ORDER[self.type]
        if self.type == "insight" and self.severity is None:
            updates["severity"] = DEFAULT_SEVERITY
        if self.title is None:
            updates["title"] = self.name.replace("_", " ").capitalize()
        for key, value in updates.items():
            object.__setattr__(self, key, value)
        return self


def _integration_of(path: Path) -> str:
    """``integrations/<name>/collectors/x.py`` -> ``<name>``."""
    return path.parent.parent.name


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


# @task's parameters in order, with their defaults (name has none).
TASK_DEFAULTS: dict[str, Any] = {
    "title": None,
    "description": None,
    "type": "collector",
    "severity": None,
    "order": None,
    "enabled": True,
    "depends_on": (),
}
TASK_PARAMETERS = ("name", *TASK_DEFAULTS)


def task(
    name: str,
    title: str | None = None,
    description: str | None = None,
    type: str = "collector",
    severity: str | None = None,
    order: int | None = None,
    enabled: bool = True,
    depends_on: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a collector or an insight.

    Args:
        name: Unique name of the task within its integration.
        title: Human readable title (defaults to the name).
        description: What the task does.
        type: ``"collector"`` (default) or ``"insight"``.
        severity: ``low``, ``medium`` (default), ``high`` or ``critical``; insights only.
        order: Execution order; collectors default to 100, insights to 500.
        enabled: A disabled task is not part of the integration's job.
        depends_on: Tasks whose data this task reads, when they cannot be read off the
            ``ctx.get_data("...")`` calls in its code (for example computed names).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = make_spec(
            Path(fn.__code__.co_filename),
            _first_line(fn.__doc__),
            name=name,
            title=title,
            description=description,
            type=type,
            severity=severity,
            order=order,
            enabled=enabled,
            depends_on=depends_on,
        )
        check_signature(fn, spec.name, Path(fn.__code__.co_filename))
        setattr(fn, TASK_MARKER, spec)
        return fn

    return decorate


def make_spec(file: Path, doc: str | None, **arguments: Any) -> TaskSpec:
    """The validated spec of ``@task(**arguments)`` on a function in ``file`` whose docstring
    starts with ``doc``; bad arguments raise a TaskDefinitionError naming the task and file."""
    values = {**TASK_DEFAULTS, **arguments}
    if values["description"] is None:
        values["description"] = doc
    values["depends_on"] = tuple(values["depends_on"] or ())
    try:
        return TaskSpec(**values)
    except ValidationError as error:
        name = values["name"]
        raise TaskDefinitionError(
            f"bad @task arguments: {_describe_validation_error(error)}",
            integration=_integration_of(file),
            task=name if isinstance(name, str) else repr(name),
            file=str(file),
        ) from None


def check_signature(fn: Callable[..., Any], name: str, file: Path) -> None:
    """A task is called as ``fn(self, ctx)``: it must take exactly those two positional
    parameters (more only with defaults), or the integration does not load."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = list(inspect.signature(fn).parameters.values())
    positional = [p for p in parameters if p.kind in kinds]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    takes_more = any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters)
    keyword_only = [
        p
        for p in parameters
        if p.kind == inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    ]
    if len(required) <= 2 and (len(positional) >= 2 or takes_more) and not keyword_only:
        return
    shown = ", ".join(str(p.replace(annotation=inspect.Parameter.empty)) for p in parameters)
    prefix = "async def" if inspect.iscoroutinefunction(fn) else "def"
    raise TaskDefinitionError(
        f"'{fn.__name__}({shown})' cannot be called as a task: define it as "
        f"'{prefix} {fn.__name__}(self, ctx: TaskContext)' (tasks are called with self and ctx)",
        integration=_integration_of(file),
        task=name,
        file=str(file),
    )


def _first_line(doc: str | None) -> str | None:
    doc = (doc or "").strip()
    return doc.splitlines()[0] if doc else None


@dataclass(frozen=True)
class TaskDef:
    """A discovered task: its spec, its function and where it was found."""

    integration: str
    spec: TaskSpec
    fn: Callable[..., Any]
    file: str
    # Filled by dependency analysis: tasks whose data / status this task reads.
    data_deps: tuple[str, ...] = ()
    status_deps: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_insight(self) -> bool:
        return self.spec.type == "insight"


@dataclass
class TaskRegistry:
    """Tasks by integration. ``register`` refuses a second task of the same name."""

    _tasks: dict[str, dict[str, TaskDef]] = field(default_factory=dict)

    def register(self, task_def: TaskDef) -> None:
        tasks = self._tasks.setdefault(task_def.integration, {})
        existing = tasks.get(task_def.name)
        if existing is not None and existing.fn is not task_def.fn:
            raise TaskDefinitionError(
                f"duplicate task name; already defined in {existing.file}",
                integration=task_def.integration,
                task=task_def.name,
                file=task_def.file,
            )
        tasks[task_def.name] = task_def

    def replace(self, integration: str, task_defs: Sequence[TaskDef]) -> None:
        self._tasks[integration] = {t.name: t for t in task_defs}

    def tasks(self, integration: str) -> dict[str, TaskDef]:
        return dict(self._tasks.get(integration, {}))

    def has(self, integration: str) -> bool:
        return integration in self._tasks

    def reset(self) -> None:
        self._tasks.clear()

    def __iter__(self) -> Iterator[str]:
        return iter(self._tasks)


REGISTRY = TaskRegistry()
