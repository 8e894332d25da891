"""Compile loaded integrations into Dagster definitions.

Per integration: StageOne is a resource keyed by the integration's name (its config schema
translated from the JSON Schema); each enabled collector is an asset ``[integration, task]``;
each enabled insight is a non-blocking asset check whose op takes only the collectors whose
data it reads as inputs, so an insight that only asks ``ctx.succeeded()`` still runs after
a collector failed. Step priorities keep the guide's order: collectors by order, then
insights by order.
"""

import json
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

# AssetChecksDefinition.create is how @multi_asset_check builds its result; we call it
# directly because the decorator always adds the target asset as an execution dependency.
from dagster._core.definitions.asset_checks.asset_checks_definition import AssetChecksDefinition
from dagster._core.definitions.executor_definition import multi_or_in_process_executor

from integrations_pipeline.config import dagster_config_schema
from integrations_pipeline.discovery import Catalog, Integration, LoadProblem
from integrations_pipeline.errors import IntegrationError, TaskFailedError
from integrations_pipeline.execution import (
    Session,
    TaskOutcome,
    TaskRun,
    open_session,
    record_outcome,
    run_task,
)
from integrations_pipeline.io_manager import load_task_output, run_scoped_io_manager
from integrations_pipeline.results import InsightResult
from integrations_pipeline.store import (
    SEVERITY_RANK,
    EvaluationStatus,
    EvaluationSummary,
    ReportedFinding,
    get_store,
)
from integrations_pipeline.tasks import TaskDef

logger = logging.getLogger("integrations_pipeline")

PRIORITY_TAG = "dagster/priority"
# Insights come after every collector whatever their `order`: the guide's execution order.
INSIGHT_PRIORITY_OFFSET = 1_000_000
PREVIEW_CHARS = 2_000
HIGH_SEVERITIES = frozenset({"high", "critical"})
STATUS_POLL_SECONDS = 0.2

# Many small, mostly I/O-bound tasks: in-process avoids a process start per step (see
# benchmarks/). Run config can still choose `execution: {config: {multiprocess: {}}}`.
integrations_executor = dg.ExecutorDefinition(
    name="integrations_executor",
    config_schema=dg.Field(
        dg.Selector(
            {
                "in_process": multi_or_in_process_executor.config_schema.config_type.fields[  # type: ignore[union-attr]
                    "in_process"
                ],
                "multiprocess": multi_or_in_process_executor.config_schema.config_type.fields[  # type: ignore[union-attr]
                    "multiprocess"
                ],
            }
        ),
        default_value={"in_process": {}},
    ),
    executor_creation_fn=multi_or_in_process_executor.executor_creation_fn,
    requirements=multi_or_in_process_executor.get_requirements,
    description="In-process by default; multiprocess on request.",
)


StepContext = dg.OpExecutionContext | dg.AssetExecutionContext


PARTITION_TAG = "dagster/partition"
# Runs without a deployment (run config given by hand) are the `adhoc` partition: Dagster
# cannot run partitioned asset checks without a partition.
ADHOC_PARTITION = "adhoc"


def deployment_of(run: dg.DagsterRun) -> str | None:
    """The deployment a run belongs to: its `deployment` tag, or its partition."""
    partition = run.tags.get(PARTITION_TAG)
    return run.tags.get("deployment") or (partition if partition != ADHOC_PARTITION else None)


def deployments_partitions(integration: str) -> dg.DynamicPartitionsDefinition:
    """One partition per deployment of ``integration`` (added by the scheduler sensor)."""
    return dg.DynamicPartitionsDefinition(name=f"{integration}_deployments")


@dataclass
class CompiledIntegration:
    assets: list[dg.AssetsDefinition]
    checks: list[AssetChecksDefinition]
    resource: dg.ResourceDefinition
    job: Any


def build_definitions(catalog: Catalog) -> dg.Definitions:
    """One Definitions object: a job per loaded integration, a failing job per broken one.

    Whatever goes wrong while compiling one integration, Dagster's own definition errors
    included, becomes a load problem of that integration; the others still load.
    """
    problems = list(catalog.problems)
    compiled: dict[str, CompiledIntegration] = {}
    for integration in catalog.integrations.values():
        try:
            compiled[integration.name] = compile_integration(integration)
        except IntegrationError as error:
            problems.append(LoadProblem(integration.name, error.detail()))
        except Exception as error:
            problems.append(LoadProblem(integration.name, f"cannot compile: {type(error).__name__}: {error}"))
    defs = _definitions(catalog, compiled, problems)
    try:
        defs.get_repository_def()
    except Exception:
        # Integrations that are fine alone can still clash with each other or trip a
        # Dagster check: find them one by one (only on this slow path) and leave them out.
        for name in list(compiled):
            try:
                _definitions(catalog, {name: compiled[name]}, []).get_repository_def()
            except Exception as error:
                del compiled[name]
                problems.append(LoadProblem(name, f"cannot compile: {type(error).__name__}: {error}"))
        defs = _definitions(catalog, compiled, problems)
        try:
            defs.get_repository_def()
        except Exception as error:
            names = ", ".join(compiled)
            problems.append(LoadProblem(None, f"integrations {names} clash: {type(error).__name__}: {error}"))
            compiled = {}
            defs = _definitions(catalog, compiled, problems)
    for problem in problems:
        logger.warning("integration load problem: %s", problem)
    return defs


def _definitions(
    catalog: Catalog, compiled: Mapping[str, CompiledIntegration], problems: list[LoadProblem]
) -> dg.Definitions:
    from integrations_pipeline.sensors import (
        default_schedules,
        finished_runs_sensors,
        scheduler_sensor,
        tickets_sensor,
    )

    jobs: list[Any] = [c.job for c in compiled.values()]
    listed = {entry.name for entry in catalog.entries}
    broken = sorted({p.integration for p in problems if p.integration in listed} - set(compiled))
    jobs.extend(_broken_job(name, [p for p in problems if p.integration == name]) for name in broken)
    schemas = {name: catalog.integrations[name].schema for name in compiled}
    disabled = {name: disabled_insights(catalog.integrations[name]) for name in compiled}
    sensors = (
        [
            scheduler_sensor(jobs, schemas, broken),
            tickets_sensor(jobs, disabled),
            *finished_runs_sensors(jobs, disabled),
        ]
        if jobs
        else []
    )
    return dg.Definitions(
        sensors=sensors,
        schedules=default_schedules(catalog, {name: c.job for name, c in compiled.items()}),
        assets=[a for c in compiled.values() for a in c.assets],
        asset_checks=[check for c in compiled.values() for check in c.checks],
        jobs=jobs,
        resources={
            **{name: c.resource for name, c in compiled.items()},
            "io_manager": run_scoped_io_manager,
        },
        metadata={
            "integrations": dg.MetadataValue.text(", ".join(sorted(compiled)) or "none"),
            "load_problems": dg.MetadataValue.text("\n".join(map(str, problems)) or "none"),
        },
    )


def disabled_insights(integration: Integration) -> list[str]:
    """Insights left out of the job: disabled, or reading a disabled collector."""
    return [
        name for name, t in integration.all_tasks.items() if t.is_insight and name not in integration.tasks
    ]


def compile_integration(integration: Integration) -> CompiledIntegration:
    collectors = integration.collectors
    if not integration.tasks:
        raise IntegrationError("has no enabled tasks", integration=integration.name)
    if integration.insights and not collectors:
        raise IntegrationError(
            "has insights but no enabled collector to attach them to", integration=integration.name
        )
    partitions = deployments_partitions(integration.name)
    assets = [_collector_asset(integration, t, partitions) for t in collectors]
    checks = [_insight_check(integration, t, collectors[0], partitions) for t in integration.insights]
    job = dg.define_asset_job(
        name=integration.name,
        selection=dg.AssetSelection.groups(integration.name),
        executor_def=integrations_executor,
        description=integration.entry.description or integration.entry.title,
        tags={"integration": integration.name, PARTITION_TAG: ADHOC_PARTITION},
    )
    return CompiledIntegration(assets, checks, _session_resource(integration), job)


def asset_key(integration: str, task: str) -> dg.AssetKey:
    return dg.AssetKey([integration, task])


def _input_name(task: str) -> str:
    return f"in_{task}"


def _priority(task_def: TaskDef) -> str:
    order = task_def.spec.order or 0
    return str(-order - (INSIGHT_PRIORITY_OFFSET if task_def.is_insight else 0))


def _description(task_def: TaskDef) -> str:
    title = task_def.spec.title or task_def.name
    return f"{title}: {task_def.spec.description}" if task_def.spec.description else title


def _task_metadata(task_def: TaskDef) -> dict[str, Any]:
    metadata: dict[str, Any] = {"title": task_def.spec.title, "order": task_def.spec.order}
    if task_def.spec.severity:
        metadata["severity"] = task_def.spec.severity
    return metadata


def _session_resource(integration: Integration) -> dg.ResourceDefinition:
    name = integration.name

    def init_session(init_context: dg.InitResourceContext) -> Session:
        run_config: Mapping[str, Any] = init_context.run.run_config if init_context.run else {}
        unresolved = ((run_config.get("resources") or {}).get(name) or {}).get("config")
        session = open_session(integration, init_context.resource_config or {}, unresolved=unresolved)
        _ensure_partition(init_context, name)
        if session.config.literal_secrets and init_context.log is not None:
            init_context.log.warning(
                f"integration '{name}': a secret config field was given as a literal value, which "
                "is stored with the run and shown in the UI; pass it as {env: VAR}"
            )
        return session

    return dg.ResourceDefinition(
        resource_fn=init_session,
        config_schema=dagster_config_schema(name, integration.schema),
        description=f"StageOne of {integration.entry.title}: validates the config and authenticates.",
    )


def _ensure_partition(init_context: dg.InitResourceContext, integration: str) -> None:
    """Add the run's partition (`adhoc`, or a deployment not synced yet) before any step."""
    key = init_context.run.tags.get(PARTITION_TAG) if init_context.run else None
    instance = init_context.instance
    partitions = deployments_partitions(integration).name
    if key and instance is not None and partitions and not instance.has_dynamic_partition(partitions, key):
        instance.add_dynamic_partitions(partitions, [key])


def _collector_asset(
    integration: Integration, task_def: TaskDef, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    @dg.asset(
        key=asset_key(integration.name, task_def.name),
        # Read collectors are dependencies, not Dagster inputs: Dagster cannot load a
        # partitioned input in an ad-hoc (unpartitioned) run; tasks read the data from the
        # run-scoped store instead (load_task_output).
        deps=[asset_key(integration.name, d) for d in task_def.data_deps],
        group_name=integration.name,
        description=_description(task_def),
        metadata=_task_metadata(task_def),
        required_resource_keys={integration.name},
        op_tags={PRIORITY_TAG: _priority(task_def)},
        output_required=False,
        partitions_def=partitions,
    )
    def collector(context: dg.AssetExecutionContext) -> Iterator[dg.Output]:
        run = _run_step(context, integration, task_def)
        if run is not None:
            yield dg.Output(
                {"data": run.result.data, "message": run.result.message, "errors": run.errors},
                metadata=_result_metadata(context, integration, run, run.result.data),
            )

    return collector


def _insight_check(
    integration: Integration,
    task_def: TaskDef,
    first_collector: TaskDef,
    partitions: dg.PartitionsDefinition,
) -> AssetChecksDefinition:
    # The check is shown on the first collector it reads (or asks about); data deps are
    # always enabled collectors, status deps may name a disabled one.
    enabled = {t.name for t in integration.collectors}
    refs = [d for d in (*task_def.data_deps, *task_def.status_deps) if d in enabled]
    target = asset_key(integration.name, refs[0] if refs else first_collector.name)
    data_keys = [asset_key(integration.name, d) for d in task_def.data_deps]
    with warnings.catch_warnings():
        # Partitioned asset checks are a preview in Dagster 1.13; we depend on them knowingly
        # (pinned), and the warning would greet every `integrations` command.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        spec = dg.AssetCheckSpec(
            name=task_def.name,
            asset=target,
            description=_description(task_def),
            blocking=False,
            additional_deps=[k for k in data_keys if k != target],
            metadata=_task_metadata(task_def),
            partitions_def=partitions,
        )
    output_name = spec.get_python_identifier()

    @dg.op(
        name=f"{integration.name}__{task_def.name}",
        ins={_input_name(d): dg.In(dg.Nothing) for d in task_def.data_deps},
        out={output_name: dg.Out(dg.Nothing, is_required=False)},
        required_resource_keys={integration.name},
        tags={PRIORITY_TAG: _priority(task_def)},
        description=_description(task_def),
    )
    def insight(context: dg.OpExecutionContext) -> Iterator[dg.AssetCheckResult]:
        run = _run_step(context, integration, task_def)
        if run is None:
            return
        yield _evaluate(context, integration, task_def, target, run)

    return AssetChecksDefinition.create(
        node_def=insight,
        keys_by_input_name={_input_name(d): asset_key(integration.name, d) for d in task_def.data_deps},
        check_specs_by_output_name={output_name: spec},
        can_subset=True,
    )


def _run_step(context: StepContext, integration: Integration, task_def: TaskDef) -> TaskRun | None:
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
    step_key = f"{integration.name}__{task}"
    if not context.job_def.graph.has_node_named(step_key):
        return False
    # In-process, steps run one at a time in priority order, so a step with no outcome yet
    # has not run (as in the guide's sequential platform). Only a parallel executor waits.
    run_config: Mapping[str, Any] = context.run.run_config
    parallel = "multiprocess" in ((run_config.get("execution") or {}).get("config") or {})
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
        mine = [e for e in events if e is not None and e.step_key == step_key]
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


def _result_metadata(
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


def _evaluate(
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
    metadata = _result_metadata(context, integration, run, run.result.data)
    metadata.update(
        {
            "severity": worst or "medium",
            "violation": bool(reported),
            "findings_open": summary.open,
            "findings_new": summary.new,
            "findings_resolved": summary.resolved,
            "findings_muted": summary.muted,
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


def _broken_job(name: str, problems: list[LoadProblem]) -> dg.JobDefinition:
    summary = "; ".join(p.message for p in problems)

    @dg.op(name=f"{name}__load_error", description=f"Integration '{name}' failed to load.")
    def load_error() -> None:
        raise dg.Failure(description=f"integration '{name}' failed to load: {summary}")

    @dg.job(name=name, description=f"BROKEN: {summary}", tags={"integration": name})
    def broken() -> None:
        load_error()

    return broken
