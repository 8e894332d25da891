"""Run an integration in-process and read each task's outcome: for integration authors' tests.

Example::

    from integrations_pipeline.testing import run_integration

    def test_check_item_flags_item_1():
        result = run_integration("hello_world", {"api_key": "test-key"})
        assert result.success
        assert result["check_item"].violation
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from integrations_pipeline.catalog.config_schema import config_error_messages
from integrations_pipeline.catalog.discovery import Integration, load_catalog
from integrations_pipeline.common.errors import IntegrationConfigError, IntegrationLoadError
from integrations_pipeline.common.redaction import secret_forms
from integrations_pipeline.execution.tasks import TaskOutcome, capture_outcomes
from integrations_pipeline.orchestration.build import compile_integration, disabled_insights
from integrations_pipeline.orchestration.finalize import finalize_run, run_errors
from integrations_pipeline.orchestration.io_manager import run_scoped_io_manager
from integrations_pipeline.orchestration.keys import deployments_partitions

__all__ = [
    "IntegrationRunResult",
    "TaskOutcome",
    "load_integration_by_name",
    "run_errors",
    "run_integration",
    "secret_leaks",
]


@dataclass
class IntegrationRunResult:
    """The outcome of one in-process run: per task and for the run as a whole."""

    integration: str
    run_id: str
    success: bool
    tasks: dict[str, TaskOutcome]
    errors: list[str] = field(default_factory=list)
    dagster_result: dg.ExecuteInProcessResult | None = None
    event_log: list[dg.EventLogEntry] = field(default_factory=list)

    def __getitem__(self, task: str) -> TaskOutcome:
        return self.tasks[task]

    @property
    def violations(self) -> list[str]:
        """Names of the insights that reported a violation."""
        return [name for name, outcome in self.tasks.items() if outcome.violation]


def load_integration_by_name(name: str, project: Path | None = None) -> Integration:
    """Load one integration; raises IntegrationLoadError listing its problems."""
    catalog = load_catalog(project, only=[name])
    integration = catalog.integrations.get(name)
    if integration is None:
        problems = "; ".join(p.message for p in catalog.problems_of(name))
        known = ", ".join(e.name for e in catalog.entries)
        raise IntegrationLoadError(
            problems or f"not found or disabled in integrations.json (known: {known})",
            integration=name,
        )
    return integration


def run_integration(
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    tasks: Iterable[str] | None = None,
    task_timeout: float | None = None,
    stage_one_timeout: float | None = None,
    project: Path | None = None,
    instance: dg.DagsterInstance | None = None,
    tags: Mapping[str, str] | None = None,
    deployment: str | None = None,
    integration: Integration | None = None,
) -> IntegrationRunResult:
    """Run integration ``name`` in this process on Dagster and return each task's outcome.

    Args:
        name: The integration's name.
        config: Its config (as in integrations.json's schema); ``{env: VAR}`` allowed.
        tasks: Run only these tasks (the ``tasks`` config key).
        task_timeout: Seconds per task (the ``task_timeout`` config key).
        stage_one_timeout: Seconds StageOne may take (the ``stage_one_timeout`` config key).
        project: Folder with integrations.json and integrations/ (default: this project).
        instance: Dagster instance to run on (default: an ephemeral one).
        tags: More run tags.
        deployment: Run as this deployment (its partition and ``deployment`` tag).
        integration: An already loaded integration (skips discovery).

    Raises:
        IntegrationConfigError: the config does not fit the Dagster config types (a wrong
            enum value, a missing field, ...); the run is then not started.
    """
    integration = integration or load_integration_by_name(name, project)
    compiled = compile_integration(integration)
    defs = dg.Definitions(
        assets=compiled.assets,
        asset_checks=compiled.checks,
        jobs=[compiled.job],
        resources={"io_manager": run_scoped_io_manager},
    )
    job = defs.resolve_job_def(name)
    run_config_values = dict(config or {})
    if tasks is not None:
        run_config_values["tasks"] = list(tasks)
    if task_timeout is not None:
        run_config_values["task_timeout"] = task_timeout
    if stage_one_timeout is not None:
        run_config_values["stage_one_timeout"] = stage_one_timeout
    run_id = str(uuid.uuid4())
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        if deployment:
            partitions = deployments_partitions(name).name
            if partitions and not instance.has_dynamic_partition(partitions, deployment):
                instance.add_dynamic_partitions(partitions, [deployment])
        result = _execute(job, name, run_config_values, instance, run_id, tags, deployment)
        finalize_run(instance, result[0].dagster_run, disabled=disabled_insights(integration))
        event_log = list(instance.all_logs(run_id))
    by_task = {outcome.task: outcome for outcome in result[1]}
    dagster_result = result[0]
    for task_name, task_def in integration.tasks.items():
        by_task.setdefault(task_name, TaskOutcome(task_name, task_def.spec.type, "skipped"))
    ordered = {t: by_task[t] for t in integration.tasks}
    return IntegrationRunResult(
        integration=name,
        run_id=run_id,
        success=dagster_result.success,
        tasks=ordered,
        errors=run_errors(dagster_result.all_events),
        dagster_result=dagster_result,
        event_log=event_log,
    )


def secret_leaks(result: IntegrationRunResult, secrets: Iterable[str], *texts: str) -> list[str]:
    """Where any of ``secrets`` shows up, in any of its forms (as it is, escaped as ``repr`` or
    JSON write it, percent-encoded: ``secret_forms``): the run's Dagster event log, its task
    outcomes, ``texts``.

    Pass what else the test captured (``capfd.readouterr()``, ``caplog.text``) as ``texts``.
    The answer names the place and the secret's position in ``secrets``, never the secret::

        assert not secret_leaks(result, [TOKEN], caplog.text, *capfd.readouterr())
    """
    places: list[tuple[str, str]] = [
        (f"event log entry {i} ({entry.dagster_event_type or 'log message'})", dg.serialize_value(entry))
        for i, entry in enumerate(result.event_log)
    ]
    places += [(f"outcome of task '{t}'", repr(o)) for t, o in result.tasks.items()]
    places += [("run errors", repr(result.errors))]
    places += [(f"captured text {i}", text) for i, text in enumerate(texts)]
    # A secret in a URL is percent-encoded, in a serialized event JSON-escaped: each form is searched for.
    forms = [secret_forms(s) if s else set() for s in secrets]
    found = [(where, n) for where, text in places for n, f in enumerate(forms) if any(x in text for x in f)]
    return [f"secret #{n} in {where}" for where, n in found]


def _execute(
    job: dg.JobDefinition,
    name: str,
    config: dict[str, Any],
    instance: dg.DagsterInstance,
    run_id: str,
    tags: Mapping[str, str] | None,
    deployment: str | None,
) -> tuple[dg.ExecuteInProcessResult, list[TaskOutcome]]:
    with capture_outcomes(run_id) as outcomes:
        try:
            result = job.execute_in_process(
                run_config={"resources": {name: {"config": config}}},
                instance=instance,
                run_id=run_id,
                tags={**(tags or {}), **({"deployment": deployment} if deployment else {})},
                partition_key=deployment,
                raise_on_error=False,
            )
        except dg.DagsterInvalidConfigError as error:
            # Refused before the run starts: said as `integrations check` says it.
            problems = "; ".join(config_error_messages(error.errors))
            raise IntegrationConfigError(f"invalid config: {problems}", integration=name) from None
    return result, list(outcomes)
