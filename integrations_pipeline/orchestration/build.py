"""Compile loaded integrations into Dagster definitions (no `from __future__ import annotations`:
Dagster reads the step functions' annotations at runtime).

Per integration: StageOne is a resource keyed by the integration's name (its config schema
translated from the JSON Schema); each enabled collector is an asset ``[integration, task]``;
each enabled insight is a non-blocking asset check whose op takes only the collectors whose
data it reads as inputs, so an insight that only asks ``ctx.succeeded()`` still runs after
a collector failed. Step priorities keep the guide's order: collectors by order, then
insights by order.
"""

import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

# AssetChecksDefinition.create is how @multi_asset_check builds its result; we call it
# directly because the decorator always adds the target asset as an execution dependency.
from dagster._core.definitions.asset_checks.asset_checks_definition import AssetChecksDefinition
from dagster._core.definitions.executor_definition import multi_or_in_process_executor

from integrations_pipeline.authoring.tasks import TaskDef
from integrations_pipeline.catalog.config_schema import dagster_config_schema
from integrations_pipeline.catalog.discovery import Catalog, Integration, LoadProblem
from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.common.runs import ADHOC_PARTITION, INTEGRATION_TAG, PARTITION_TAG
from integrations_pipeline.execution.session import Session, open_session
from integrations_pipeline.orchestration.failures import broken_job, never_retry
from integrations_pipeline.orchestration.hard_limits import tag_max_runtime
from integrations_pipeline.orchestration.io_manager import run_scoped_io_manager
from integrations_pipeline.orchestration.keys import (
    asset_key,
    deployments_partitions,
    ensure_partition,
    step_key,
)
from integrations_pipeline.orchestration.schedules import default_schedules
from integrations_pipeline.orchestration.sensors import (
    finished_runs_sensors,
    scheduler_sensor,
    tickets_sensor,
)
from integrations_pipeline.orchestration.steps import errored, evaluate, result_metadata, run_step
from integrations_pipeline.orchestration.tenancy import config_for_run

logger = logging.getLogger("integrations_pipeline")

PRIORITY_TAG = "dagster/priority"
ENTRY_TAG_PREFIX = "integrations.tag/"  # one job tag per tag of the integrations.json entry
DEFAULT_SEVERITY = "medium"
# Insights come after every collector whatever their `order`: the guide's execution order.
INSIGHT_PRIORITY_OFFSET = 1_000_000

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


@dataclass
class CompiledIntegration:
    assets: list[dg.AssetsDefinition]
    checks: list[AssetChecksDefinition]
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
    jobs: list[Any] = [c.job for c in compiled.values()]
    listed = {entry.name for entry in catalog.entries}
    broken = sorted({p.integration for p in problems if p.integration in listed} - set(compiled))
    entries = {entry.name: entry for entry in catalog.entries}
    jobs.extend(
        broken_job(name, [p for p in problems if p.integration == name], entries[name].schema)
        for name in broken
    )
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
        resources={"io_manager": run_scoped_io_manager},
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
    # StageOne is bound to this integration's own steps, not to Definitions: a resource bound
    # there would be in every job's run-config schema (the launchpad would ask for them all).
    resources = {integration.name: _session_resource(integration)}
    assets = [_collector_asset(integration, t, partitions, resources) for t in collectors]
    checks = [
        _insight_check(integration, t, collectors[0], partitions, resources) for t in integration.insights
    ]
    job = dg.define_asset_job(
        name=integration.name,
        selection=dg.AssetSelection.groups(integration.name),
        executor_def=integrations_executor,
        description=integration.entry.description or integration.entry.title,
        tags={
            INTEGRATION_TAG: integration.name,
            PARTITION_TAG: ADHOC_PARTITION,
            # The entry's tags, so that the Dagster UI filters jobs and runs by them.
            **{f"{ENTRY_TAG_PREFIX}{tag}": "" for tag in integration.entry.tags},
        },
    )
    return CompiledIntegration(assets, checks, job)


def _input_name(task: str) -> str:
    return f"in_{task}"


def _priority(task_def: TaskDef) -> str:
    order = task_def.spec.order or 0
    return str(-order - (INSIGHT_PRIORITY_OFFSET if task_def.is_insight else 0))


def _description(task_def: TaskDef) -> str:
    title = task_def.spec.title or task_def.name
    text = f"{title}: {task_def.spec.description}" if task_def.spec.description else title
    if task_def.is_insight:
        # Dagster shows a check as Passed or Failed (WARN and ERROR alike): the severity the
        # insight declares leads its description, which the UI shows wherever checks are listed.
        return f"[{task_def.spec.severity or DEFAULT_SEVERITY}] {text}"
    return text


def _task_metadata(task_def: TaskDef) -> dict[str, Any]:
    metadata: dict[str, Any] = {"title": task_def.spec.title, "order": task_def.spec.order}
    if task_def.spec.severity:
        metadata["severity"] = task_def.spec.severity
    return metadata


def _session_resource(integration: Integration) -> dg.ResourceDefinition:
    name = integration.name

    def init_session(init_context: dg.InitResourceContext) -> Session:
        run_config: Mapping[str, Any] = init_context.run.run_config if init_context.run else {}
        given = ((run_config.get("resources") or {}).get(name) or {}).get("config")
        try:
            unresolved = config_for_run(init_context.run, name, given)
            # The deployment's stored config, when it replaced the one given, is resolved here.
            config = init_context.resource_config if unresolved is given else unresolved
            log = init_context.log.info if init_context.log is not None else None  # StageOne's HTTP retries
            session = open_session(integration, config or {}, unresolved=unresolved, log=log)
        except IntegrationError:
            # A config, tenancy or StageOne (credentials) error fails the same way again: no run
            # retry, which would only log in to the customer's API twice. A dead process is
            # still retried (dagster.yaml run_retries).
            never_retry(init_context.instance, init_context.run)
            raise
        selected = sum(1 for task in integration.tasks if session.selected(task))
        limits = session.config
        tag_max_runtime(
            init_context.instance, init_context.run, limits.stage_one_timeout, selected * limits.task_timeout
        )
        partition = init_context.run.tags.get(PARTITION_TAG) if init_context.run else None
        ensure_partition(init_context.instance, name, partition)
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


def _collector_asset(
    integration: Integration,
    task_def: TaskDef,
    partitions: dg.PartitionsDefinition,
    resources: Mapping[str, dg.ResourceDefinition],
) -> dg.AssetsDefinition:
    def collector(context: dg.AssetExecutionContext) -> Iterator[dg.Output]:
        run = run_step(context, integration, task_def)
        if run is not None:
            yield dg.Output(
                {"data": run.result.data, "message": run.result.message, "errors": run.errors},
                metadata=result_metadata(context, integration, run, run.result.data),
            )

    with warnings.catch_warnings():
        # Resources bound to assets are a beta parameter in Dagster 1.13 (pinned).
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _asset_decorator(integration, task_def, partitions, resources)(collector)


def _asset_decorator(
    integration: Integration,
    task_def: TaskDef,
    partitions: dg.PartitionsDefinition,
    resources: Mapping[str, dg.ResourceDefinition],
) -> Any:
    return dg.asset(
        key=asset_key(integration.name, task_def.name),
        # Read collectors are dependencies, not Dagster inputs: Dagster cannot load a
        # partitioned input in an ad-hoc (unpartitioned) run; tasks read the data from the
        # run-scoped store instead (load_task_output).
        deps=[asset_key(integration.name, d) for d in task_def.data_deps],
        group_name=integration.name,
        description=_description(task_def),
        metadata=_task_metadata(task_def),
        resource_defs=resources,
        op_tags={PRIORITY_TAG: _priority(task_def)},
        output_required=False,
        partitions_def=partitions,
    )


def _insight_check(
    integration: Integration,
    task_def: TaskDef,
    first_collector: TaskDef,
    partitions: dg.PartitionsDefinition,
    resources: Mapping[str, dg.ResourceDefinition],
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
        name=step_key(integration.name, task_def.name),
        ins={_input_name(d): dg.In(dg.Nothing) for d in task_def.data_deps},
        out={output_name: dg.Out(dg.Nothing, is_required=False)},
        required_resource_keys={integration.name},
        tags={PRIORITY_TAG: _priority(task_def)},
        description=_description(task_def),
    )
    def insight(context: dg.OpExecutionContext) -> Iterator[dg.AssetCheckResult]:
        try:
            run = run_step(context, integration, task_def)
        except dg.Failure as failure:
            # A failed evaluation of this run's partition (deployment), then the step's failure:
            # the check's status says which deployment's check errored, and why.
            yield errored(context, task_def, target, failure)
            raise
        if run is None:
            return
        yield evaluate(context, integration, task_def, target, run)

    return AssetChecksDefinition.create(
        node_def=insight,
        keys_by_input_name={_input_name(d): asset_key(integration.name, d) for d in task_def.data_deps},
        check_specs_by_output_name={output_name: spec},
        can_subset=True,
        resource_defs=resources,
    )
