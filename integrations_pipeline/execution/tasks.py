"""Running one task: under its ``task_timeout``, its result validated and redacted.

A task runs in a daemon thread so that ``task_timeout`` can end the step without waiting
for the task (:mod:`.limits`): an ``async def`` task is awaited there and cancelled at the
limit; a task stuck on a hung API keeps its thread until the run's process exits, but the
run goes on. Everything a task says (logs, errors, the HTTP toolkit's retries, its result)
passes through the session's redaction of secret values before it reaches Dagster or the
database.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from integrations_pipeline.authoring.results import CollectorResult, InsightResult, validate_result
from integrations_pipeline.authoring.runner import TaskContext
from integrations_pipeline.authoring.tasks import TaskDef
from integrations_pipeline.common.errors import (
    IntegrationError,
    TaskFailedError,
    TaskNotRunError,
    TaskTimeoutError,
)
from integrations_pipeline.common.redaction import LineRedactor, redact, redact_value
from integrations_pipeline.execution.limits import call_limited
from integrations_pipeline.execution.output import redacted_output
from integrations_pipeline.execution.session import Session, describe_error
from integrations_pipeline.execution.task_log import send_toolkit_lines_to


@dataclass
class TaskOutcome:
    """What became of one task in one run."""

    task: str
    type: str
    status: Literal["succeeded", "failed", "skipped"]
    data: Any = None
    message: str | None = None
    violation: bool = False
    violations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    duration: float = 0.0


# Outcomes of runs whose caller asked for them (the testing helper), by run id.
_CAPTURED: dict[str, list[TaskOutcome]] = {}
_CAPTURED_LOCK = threading.Lock()


@contextmanager
def capture_outcomes(run_id: str) -> Iterator[list[TaskOutcome]]:
    """Collect the :class:`TaskOutcome` of every task of run ``run_id`` in this process."""
    outcomes: list[TaskOutcome] = []
    with _CAPTURED_LOCK:
        _CAPTURED[run_id] = outcomes
    try:
        yield outcomes
    finally:
        with _CAPTURED_LOCK:
            _CAPTURED.pop(run_id, None)


def record_outcome(run_id: str, outcome: TaskOutcome) -> None:
    with _CAPTURED_LOCK:
        sink = _CAPTURED.get(run_id)
        if sink is not None:
            sink.append(outcome)


@dataclass
class TaskRun:
    """A finished task: its validated result and the errors it recorded."""

    result: CollectorResult
    errors: list[str]
    logs: list[str]
    duration: float
    # False when the task, or a collector it read, recorded errors (partial data).
    complete: bool = True

    @property
    def violation(self) -> bool:
        return isinstance(self.result, InsightResult) and self.result.found


def run_task(
    session: Session,
    task_def: TaskDef,
    inputs: Mapping[str, Mapping[str, Any]],
    *,
    status_of: Callable[[str], bool],
    log: Callable[[str], None],
    log_error: Callable[[str], None],
) -> TaskRun:
    """Run one task under the session's ``task_timeout``; raise an IntegrationError on failure.

    ``log`` and ``log_error`` are called from the caller's thread only.
    """
    lines: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    logs: list[str] = []
    errors: list[str] = []
    ctx = TaskContext(
        integration=session.name,
        task=task_def.name,
        config=session.runner.config,
        base=session.base,
        inputs=inputs,
        status_of=_selected_status(session, task_def, status_of),
        known_tasks={name: t.spec.type for name, t in session.integration.all_tasks.items()},
        log=lambda message: lines.put(("log", message)),
        error=lambda message: lines.put(("error", message)),
        secrets=session.secrets,
    )

    def call() -> Any:
        send_toolkit_lines_to(lambda message: lines.put(("log", message)))
        return task_def.fn(session.stage_two, ctx)

    # Redacted with the lines around them: a secret split over two add_log calls, or over
    # a line break inside one, is redacted in both parts.
    redactor: LineRedactor[str] = LineRedactor(lambda: session.secrets)

    def send(ready: list[tuple[str, str]]) -> None:
        for kind, message in ready:
            if kind == "error":
                errors.append(message)
                log_error(message)
            else:
                logs.append(message)
                log(message)

    def drain() -> None:
        while True:
            try:
                kind, message = lines.get_nowait()
            except queue.Empty:
                return
            send(redactor.push(kind, message))

    limit = session.config.task_timeout
    started = time.monotonic()
    with redacted_output():
        done = call_limited(call, limit, name=f"{session.name}.{task_def.name}", poll=drain)
    send(redactor.flush())
    if done.timed_out:
        fate = "the task was cancelled" if done.cancelled else "the task was abandoned"
        raise _with_errors(
            TaskTimeoutError(
                f"timed out after {limit:g} s (task_timeout); {fate}",
                integration=session.name,
                task=task_def.name,
            ),
            errors,
        )
    duration = time.monotonic() - started
    if done.error is not None:
        error = done.error
        if isinstance(error, IntegrationError):
            raise _with_errors(
                type(error)(session.redact(error.reason), integration=error.integration, task=error.task),
                errors,
            )
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        failure = TaskFailedError(
            f"raised {session.redact(describe_error(error))}",
            integration=session.name,
            task=task_def.name,
        )
        failure.traceback_text = session.redact(trace)  # type: ignore[attr-defined]
        raise _with_errors(failure, errors)
    try:
        result = validate_result(task_def, done.value)
    except IntegrationError as error:
        raise _with_errors(error, errors) from None
    secrets = session.secrets  # once per result, not once per string
    if secrets:
        # Redacted before it reaches the IO manager, metadata, outcomes or the database.
        update: dict[str, Any] = {
            "data": redact_value(result.data, secrets),
            "message": redact(result.message, secrets) if result.message else result.message,
        }
        if isinstance(result, InsightResult) and result.violations:
            update["violations"] = [
                v.model_copy(
                    update={
                        "resource": redact(v.resource, secrets),
                        "message": redact(v.message, secrets) if v.message else v.message,
                        "data": redact_value(v.data, secrets),
                    }
                )
                for v in result.violations
            ]
        result = result.model_copy(update=update)
    return TaskRun(result=result, errors=errors, logs=logs, duration=duration)


def _selected_status(
    session: Session, task_def: TaskDef, status_of: Callable[[str], bool]
) -> Callable[[str], bool]:
    """``status_of``, refusing to answer about a collector the config's ``tasks`` left out.

    Names read off the code are checked when the config is (``check_task_names``); this
    catches names a task computes, so that no insight judges a collector that was not asked
    to run.
    """

    def checked(name: str) -> bool:
        task = session.integration.tasks.get(name)
        if task is not None and not task.is_insight and not session.selected(name):
            raise TaskNotRunError(
                f"asked whether '{name}' succeeded, but the config's 'tasks' does not select it; "
                f"add '{name}' to 'tasks'",
                integration=session.name,
                task=task_def.name,
            )
        return status_of(name)

    return checked


def _with_errors(error: IntegrationError, errors: list[str]) -> IntegrationError:
    """Keep the errors a failed task recorded with ``add_error`` on the raised error."""
    error.task_errors = list(errors)  # type: ignore[attr-defined]
    return error
