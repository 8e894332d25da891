"""Sensors: the platform's scheduler, support tickets, and what follows every finished run.

- ``deployments_scheduler`` (running by default): on each tick, adds a partition for every
  deployment and launches one run per due cron slot and per ``run-now`` request. Run keys
  (deployment + slot) make the daemon skip a slot it launched before, across restarts;
  only the latest slot is due, so slots missed while the daemon was down run once.
- ``support_tickets`` (running by default): one ticket per failed run, posted to
  ``INTEGRATIONS_WEBHOOK_URL`` when set by the background deliverer, never in a tick.
- ``finished_runs`` and ``canceled_runs``: complete each run's evaluation history and alert on
  its new findings.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import dagster as dg

from integrations_pipeline.catalog.config_schema import config_error_messages, dagster_config_schema
from integrations_pipeline.common.runs import ADHOC_PARTITION, DEPLOYMENT_TAG, SLOT_TAG, TRIGGER_TAG
from integrations_pipeline.orchestration.backpressure import (
    MANUAL_PRIORITY,
    PRIORITY_TAG,
    cancel_queued,
    in_flight_runs,
    skip_busy_slots,
)
from integrations_pipeline.orchestration.keys import deployments_partitions

if TYPE_CHECKING:
    from integrations_pipeline.operations.deployments import Deployment, DeploymentStore

# The application database (SQLAlchemy), tickets and findings are imported by the sensors'
# ticks, not when the code location loads: every process that loads it would pay for them.

SCHEDULER_SENSOR = "deployments_scheduler"
TICKETS_SENSOR = "support_tickets"
INTERVAL_ENV = "INTEGRATIONS_SENSOR_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 30
RUN_KEY_TAG = "dagster/run_key"


logger = logging.getLogger("integrations_pipeline.scheduler")


def sensor_interval() -> int:
    return int(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_SECONDS))


def deployment_run_request(
    deployment: Deployment, *, run_key: str, trigger: str, partitioned: bool, slot: datetime | None = None
) -> dg.RunRequest:
    tags = {"integration": deployment.integration, "deployment": deployment.name, TRIGGER_TAG: trigger}
    if slot is not None:
        tags[SLOT_TAG] = slot.isoformat()
    if trigger == "manual":
        tags[PRIORITY_TAG] = MANUAL_PRIORITY  # past the scheduled backlog
    return dg.RunRequest(
        run_key=run_key,
        job_name=deployment.integration,
        partition_key=deployment.name if partitioned else None,
        # A broken integration's job has no resources: it only fails with the load error.
        run_config={"resources": {deployment.integration: {"config": deployment.config}}}
        if partitioned
        else {},
        tags=tags,
    )


def evaluate_scheduler(
    instance: dg.DagsterInstance,
    loaded: Mapping[str, Mapping[str, Any]],
    broken: Sequence[str],
    cursor: str | None,
    now: datetime | None = None,
    store: DeploymentStore | None = None,
) -> dg.SensorResult:
    """One scheduler tick: partitions to add, runs to launch, the new cursor.

    ``loaded`` maps each loaded integration to its config JSON Schema. A deployment whose
    config no longer fits (integrations.json changed since it was saved) gets a ticket
    instead of a run; a deployment of an integration that failed to load launches that
    integration's failing job (its runs fail with the load error, and get tickets). What
    goes wrong with one deployment never fails the tick for the others.
    """
    from integrations_pipeline.operations.deployments import DeploymentStore

    now = now or datetime.now(UTC)
    store = store or DeploymentStore()
    launched: dict[str, str] = json.loads(cursor) if cursor else {}
    deployments = store.all()
    partition_requests = []
    for integration in sorted(loaded):
        partitions = deployments_partitions(integration).name
        assert partitions is not None
        wanted = {ADHOC_PARTITION} | {d.name for d in deployments if d.integration == integration}
        missing = sorted(wanted - set(instance.get_dynamic_partitions(partitions)))
        if missing:
            partition_requests.append(dg.AddDynamicPartitionsRequest(partitions, missing))
    run_requests: list[dg.RunRequest] = []
    problems: list[str] = []
    # Backpressure (backpressure.py): the queued runs of paused or removed deployments are
    # canceled; a deployment with a run queued or in progress skips its new slots.
    active = {d.name for d in deployments if not d.paused}
    in_flight = in_flight_runs(instance)
    canceled = cancel_queued(
        instance, {r.tags.get(DEPLOYMENT_TAG, "") for r in in_flight} - active, in_flight
    )
    busy = (
        {r.tags[DEPLOYMENT_TAG] for r in in_flight if r.tags.get(DEPLOYMENT_TAG) and r.run_id not in canceled}
        if skip_busy_slots()
        else set()
    )
    skipped: list[str] = []
    for deployment in deployments:
        if deployment.integration not in loaded and deployment.integration not in broken:
            continue  # its integration is gone from integrations.json: nothing to run
        try:
            requests = _deployment_requests(instance, deployment, loaded, launched, now, store)
        except Exception as error:  # one deployment's trouble must not stop the others
            problems.append(f"deployment '{deployment.name}': {type(error).__name__}: {error}")
            continue
        if deployment.name in busy:
            skipped += [deployment.name for r in requests if r.tags.get(TRIGGER_TAG) == "schedule"]
            requests = [r for r in requests if r.tags.get(TRIGGER_TAG) != "schedule"]
        run_requests.extend(requests)
    if skipped:
        logger.info("slots skipped, a run still queued or running: %s", ", ".join(skipped))
    if canceled:
        logger.info("canceled %d queued run(s) of paused or removed deployments", len(canceled))
    current = {d.name for d in deployments}
    cursor_out = json.dumps({k: v for k, v in launched.items() if k in current}, sort_keys=True)
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        cursor=cursor_out,
        skip_reason="; ".join(problems) if problems and not run_requests else None,
    )


def _deployment_requests(
    instance: dg.DagsterInstance,
    deployment: Deployment,
    loaded: Mapping[str, Mapping[str, Any]],
    launched: dict[str, str],
    now: datetime,
    store: DeploymentStore,
) -> list[dg.RunRequest]:
    partitioned = deployment.integration in loaded
    from integrations_pipeline.operations.deployments import due_slot

    slot = due_slot(deployment, now)
    previous = launched.get(deployment.name)
    due = slot is not None and (previous is None or datetime.fromisoformat(previous) < slot)
    token = deployment.run_requested
    manual_key = f"{deployment.name}:manual:{token}" if token else None
    if manual_key and _run_exists(instance, manual_key):
        # The daemon created the run of this request: it is done.
        store.clear_run_request(deployment.name, token or "")
        manual_key = None
    if not (due or manual_key):
        return []
    if partitioned:
        problem = _config_problem(deployment, loaded[deployment.integration])
        if problem:
            occurrence = _utc(slot).isoformat() if due and slot else token
            _config_ticket(deployment, problem, occurrence)
            if token:
                store.clear_run_request(deployment.name, token)
            if due and slot:
                launched[deployment.name] = _utc(slot).isoformat()
            return []
    requests = []
    if due and slot is not None:
        utc_slot = _utc(slot)
        requests.append(
            deployment_run_request(
                deployment,
                run_key=f"{deployment.name}:{utc_slot.isoformat()}",
                trigger="schedule",
                partitioned=partitioned,
                slot=utc_slot,
            )
        )
        launched[deployment.name] = utc_slot.isoformat()
    if manual_key:
        # Requested again on every tick until the run exists; the run key makes the daemon
        # create it once.
        requests.append(
            deployment_run_request(deployment, run_key=manual_key, trigger="manual", partitioned=partitioned)
        )
    return requests


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _run_exists(instance: dg.DagsterInstance, run_key: str) -> bool:
    return bool(instance.get_run_ids(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def _config_problem(deployment: Deployment, schema: Mapping[str, Any]) -> str | None:
    from dagster._config import process_config, resolve_to_config_type

    config_type = resolve_to_config_type(dagster_config_schema(deployment.integration, schema))
    result = process_config(config_type, dict(deployment.config))
    if result.success:
        return None
    return "; ".join(config_error_messages(result.errors or []))


def _config_ticket(deployment: Deployment, problem: str, occurrence: str | None) -> None:
    from integrations_pipeline.operations.delivery import start_deliverer
    from integrations_pipeline.operations.tickets import open_ticket

    _, created = open_ticket(
        run_id=f"config:{deployment.name}:{occurrence}",
        integration=deployment.integration,
        deployment=deployment.name,
        failed_tasks=[],
        error_summary=f"deployment '{deployment.name}' was not run: its config does not fit "
        f"integration '{deployment.integration}': {problem}",
    )
    if created:
        start_deliverer()


def scheduler_sensor(
    jobs: Sequence[Any], loaded: Mapping[str, Mapping[str, Any]], broken: Sequence[str]
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SCHEDULER_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=sensor_interval(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches each deployment's due cron slots and run-now requests.",
    )
    def deployments_scheduler(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from integrations_pipeline.operations.delivery import start_deliverer

        result = evaluate_scheduler(context.instance, loaded, broken, context.cursor)
        start_deliverer()  # this process posts the webhook outbox in the background
        return result

    return deployments_scheduler


def tickets_sensor(jobs: Sequence[Any], disabled: Mapping[str, Sequence[str]]) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=TICKETS_SENSOR,
        monitored_jobs=list(jobs),
        minimum_interval_seconds=sensor_interval(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Opens a support ticket for every failed integration run.",
    )
    def support_tickets(context: dg.RunFailureSensorContext) -> None:
        from integrations_pipeline.orchestration.finalize import failed_run_ticket, finalize_run

        run = context.dagster_run
        finalize_run(context.instance, run, disabled=disabled.get(run.tags.get("integration", ""), ()))
        ticket, created = failed_run_ticket(context.instance, context.dagster_run)
        if ticket is not None and created:
            context.log.info(f"opened ticket {ticket['id']} for run {ticket['run_id']}")

    return support_tickets


FINISHED_SENSOR = "finished_runs"


def finished_runs_sensors(
    jobs: Sequence[Any], disabled: Mapping[str, Sequence[str]]
) -> list[dg.SensorDefinition]:
    """Succeeded and canceled runs: complete their evaluation history, alert on new findings."""
    sensors: list[dg.SensorDefinition] = []
    statuses = (
        (FINISHED_SENSOR, dg.DagsterRunStatus.SUCCESS),
        ("canceled_runs", dg.DagsterRunStatus.CANCELED),
    )
    for name, status in statuses:

        @dg.run_status_sensor(
            name=name,
            run_status=status,
            monitored_jobs=list(jobs),
            minimum_interval_seconds=sensor_interval(),
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Completes each run's evaluation history and alerts on its new findings.",
        )
        def finished_runs(context: dg.RunStatusSensorContext) -> None:
            from integrations_pipeline.orchestration.finalize import finalize_run

            run = context.dagster_run
            finalize_run(context.instance, run, disabled=disabled.get(run.tags.get("integration", ""), ()))

        sensors.append(finished_runs)
    return sensors
