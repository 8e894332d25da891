"""What the assets and checks run: one task as a Dagster step, its outcome recorded.

A collector's step stores its data through the IO manager; an insight's step evaluates its
result into findings (the finding store) and an asset check result. Kept apart from
:mod:`~integrations_pipeline.orchestration.build`, which only builds the definitions.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dagster as dg

from integrations_pipeline.authoring.results import InsightResult
from integrations_pipeline.authoring.tasks import TaskDef
from integrations_pipeline.catalog.discovery import Integration
from integrations_pipeline.common.errors import IntegrationError, TaskFailedError
from integrations_pipeline.common.runs import ADHOC_PARTITION, deployment_of
from integrations_pipeline.execution.session import Session
from integrations_pipeline.execution.tasks import TaskOutcome, TaskRun, record_outcome, run_task
from integrations_pipeline.findings.model import (
    SEVERITY_RANK,
    EvaluationStatus,
    EvaluationSummary,
    ReportedFinding,
)
from integrations_pipeline.orchestration.hard_limits import is_multiprocess, step_watchdog
from integrations_pipeline.orchestration.io_manager import load_task_output
from integrations_pipeline.orchestration.keys import asset_key, step_key

PREVIEW_CHARS = 2_000


HIGH_SEVERITIES = frozenset({"high", "critical"})


STATUS_POLL_SECONDS = 0.2


StepContext = dg.OpExecutionContext | dg.AssetExecutionContext


def run_step(context: StepContext, integration: Integration, task_def: TaskDef) -> TaskRun | None:
    session: Session = getattr(context.resources, integration.name)
    task = task_def.name
    if not session.selected(task):
        context.log.info(f"[{task}] not run: the config's 'tasks' does not name it")
        record_outcome(context.run.run_id, TaskOutcome(task, task_def.spec.type, "skipped"))
        if task_def.is_insight:
            _record_evaluation(context, integration, task_def, "skipped", "not selected by 'tasks'")
        return None
    data_inputs = {
        d: load_task_output(context.instance, context.run, asset_key(integration.name, d))
        for d in task_def.data_deps
    }
    known = {d: _step_succeeded(context, integration, d, session) for d in task_def.status_deps}

    def status_of(name: str) -> bool:
        if name not in known:
            known[name] = _step_succeeded(context, integration, name, session)
        return known[name]

    try:
        with step_watchdog(context.run, session.config.task_timeout):
            run = run_task(
                session,
                task_def,
                data_inputs,
                status_of=status_of,
                log=lambda message: context.log.info(f"[{task}] {message}"),
                log_error=lambda message: context.log.error(f"[{task}] error: {message}"),
            )
    except IntegrationError as error:
        task_errors = list(getattr(error, "task_errors", []))
        record_outcome(
            context.run.run_id,
            TaskOutcome(task, task_def.spec.type, "failed", error=str(error), errors=task_errors),
        )
        metadata: dict[str, Any] = {"integration": integration.name, "task": task}
        if task_errors:
            metadata["errors"] = dg.MetadataValue.text("\n".join(task_errors))
        if task_def.is_insight:
            _record_evaluation(context, integration, task_def, "error", str(error))
        trace = getattr(error, "traceback_text", None)
        if isinstance(error, TaskFailedError) and trace:
            metadata["traceback"] = dg.MetadataValue.text(trace)
        raise dg.Failure(description=str(error), metadata=metadata) from None
    # Partial data (a collector, or the insight, recorded errors) must not resolve findings.
    run.complete = not run.errors and not any(i.get("errors") for i in data_inputs.values())
    violations = getattr(run.result, "violations", None) or []
    record_outcome(
        context.run.run_id,
        TaskOutcome(
            task,
            task_def.spec.type,
            "succeeded",
            data=run.result.data,
            message=run.result.message,
            violation=run.violation,
            violations=[v.model_dump() for v in violations],
            errors=run.errors,
            logs=run.logs,
            duration=run.duration,
        ),
    )
    return run


def _step_succeeded(context: StepContext, integration: Integration, task: str, session: Session) -> bool:
    """Whether ``task`` ran and produced its data in this run (waits while it is running)."""
    if task not in integration.tasks or integration.all_tasks[task].is_insight:
        return False
    if not session.selected(task):
        return False
    step = step_key(integration.name, task)
    if not context.job_def.graph.has_node_named(step):
        return False
    # In-process, steps run one at a time in priority order, so a step with no outcome yet
    # has not run (as in the guide's sequential platform). Only a parallel executor waits.
    parallel = is_multiprocess(context.run)
    deadline = time.monotonic() + (session.config.task_timeout if parallel else 0.0)
    terminal = {
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_SKIPPED,
    }
    while True:
        records = context.instance.get_records_for_run(
            run_id=context.run.run_id,
            of_type={*terminal, dg.DagsterEventType.ASSET_MATERIALIZATION},
        ).records
        events = [r.event_log_entry.dagster_event for r in records]
        mine = [e for e in events if e is not None and e.step_key == step]
        if any(e.event_type in terminal for e in mine):
            return any(e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION for e in mine)
        if time.monotonic() >= deadline:
            return False
        time.sleep(STATUS_POLL_SECONDS)


def _preview(value: Any) -> str:
    """The start of ``value`` as JSON, at most PREVIEW_CHARS, without encoding all of it."""
    small, cut = _head_of(value, PREVIEW_CHARS)
    text = json.dumps(small, default=str, ensure_ascii=False)
    if cut or len(text) > PREVIEW_CHARS:
        return f"{text[:PREVIEW_CHARS]}… (cut; {_size(value)})"
    return text


def _head_of(value: Any, budget: int) -> tuple[Any, bool]:
    """As much of ``value`` as about ``budget`` characters of JSON show, and whether it was cut."""
    if isinstance(value, dict):
        items = iter(value.items())
        head: Any = {}
        for key, item in items:
            head[key], cut = _head_of(item, budget)
            budget -= len(str(key)) + len(json.dumps(head[key], default=str, ensure_ascii=False)) + 4
            if cut or budget <= 0:
                return head, True
        return head, False
    if isinstance(value, list | tuple):
        head = []
        for item in value:
            small, cut = _head_of(item, budget)
            head.append(small)
            budget -= len(json.dumps(small, default=str, ensure_ascii=False)) + 2
            if cut or budget <= 0:
                return head, len(head) < len(value) or cut
        return head, False
    if isinstance(value, str) and len(value) > budget:
        return value[: max(budget, 0)], True
    return value, False


def _size(value: Any) -> str:
    """How big ``value`` is: ``1000 items``, or per key of a dict ``users: 1000 items, ...``."""
    if isinstance(value, list | tuple):
        return f"{len(value)} items"
    if isinstance(value, dict):
        sized = [f"{key}: {len(item)} items" for key, item in value.items() if isinstance(item, list | tuple)]
        return ", ".join(sized[:5]) or f"{len(value)} keys"
    return "one value"


def result_metadata(
    context: StepContext, integration: Integration, run: TaskRun, data: Any
) -> dict[str, Any]:
    session: Session = getattr(context.resources, integration.name)
    metadata: dict[str, Any] = {
        "message": dg.MetadataValue.text(session.redact(run.result.message or "")),
        "records": len(data) if isinstance(data, list | dict) else 0,
        "preview": dg.MetadataValue.text(session.redact(_preview(data))),
        "duration_s": round(run.duration, 3),
    }
    if run.errors:
        metadata["errors"] = dg.MetadataValue.text("\n".join(run.errors))
    return metadata


def _reported(task_def: TaskDef, run: TaskRun) -> list[ReportedFinding]:
    """The findings an insight's result reports: its own, and one per resource."""
    result = run.result
    severity = task_def.spec.severity or "medium"
    reported = []
    if isinstance(result, InsightResult):
        if result.violation:
            reported.append(ReportedFinding(None, severity, result.message, result.data))
        for item in result.violations or []:
            reported.append(
                ReportedFinding(item.resource, item.severity or severity, item.message, item.data)
            )
    return reported


def _record_evaluation(
    context: StepContext,
    integration: Integration,
    task_def: TaskDef,
    status: EvaluationStatus,
    message: str | None = None,
    reported: list[ReportedFinding] | None = None,
    complete: bool = True,
) -> EvaluationSummary:
    from integrations_pipeline.findings.store import get_store  # SQLAlchemy: when a run needs it

    try:
        return get_store().record_evaluation(
            integration=integration.name,
            deployment=deployment_of(context.run),
            task=task_def.name,
            title=task_def.spec.title or task_def.name,
            run_id=context.run.run_id,
            status=status,
            message=message,
            reported=reported or [],
            complete=complete,
        )
    except Exception as error:
        raise dg.Failure(
            description=(
                f"integration '{integration.name}' task '{task_def.name}': could not record the "
                f"evaluation in the application database: {type(error).__name__}: {error}"
            )
        ) from None


def evaluate(
    context: StepContext,
    integration: Integration,
    task_def: TaskDef,
    target: dg.AssetKey,
    run: TaskRun,
) -> dg.AssetCheckResult:
    message = run.result.message
    reported = _reported(task_def, run)
    summary = _record_evaluation(
        context, integration, task_def, "violation" if reported else "passed", message, reported, run.complete
    )
    worst = max(
        (f.severity for f in reported), key=lambda s: SEVERITY_RANK[s], default=task_def.spec.severity
    )
    metadata = result_metadata(context, integration, run, run.result.data)
    metadata.update(
        {
            "severity": worst or "medium",
            "violation": bool(reported),
            "findings_open": summary.open,
            "findings_new": summary.new,
            "findings_resolved": summary.resolved,
            "findings_muted": summary.muted,
            "deployment": deployment_of(context.run) or ADHOC_PARTITION,
        }
    )
    if summary.preview:
        metadata["findings_preview"] = dg.MetadataValue.json(summary.preview)
    return dg.AssetCheckResult(
        asset_key=target,
        check_name=task_def.name,
        passed=not reported,
        severity=dg.AssetCheckSeverity.ERROR if worst in HIGH_SEVERITIES else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=message,
    )


def errored(
    context: StepContext, task_def: TaskDef, target: dg.AssetKey, failure: dg.Failure
) -> dg.AssetCheckResult:
    """The check result of an insight that could not judge: failed, naming its deployment."""
    deployment = deployment_of(context.run) or ADHOC_PARTITION
    return dg.AssetCheckResult(
        asset_key=target,
        check_name=task_def.name,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"deployment '{deployment}': error: {failure.description}",
        metadata={"deployment": deployment, "error": dg.MetadataValue.text(failure.description or "")},
    )
