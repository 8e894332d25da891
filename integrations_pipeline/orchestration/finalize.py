"""After a run: its evaluation history completed, an alert on its new findings, and a ticket
when it failed. Called by the run-status sensors and by the in-process test helper.

Insights that never ran are recorded as ``skipped`` (not selected, or a collector they read
was not) or ``error`` (a collector they read failed); a run refused before any task started
records none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from integrations_pipeline.common.runs import deployment_of, integration_of
from integrations_pipeline.findings.alerts import alert_new_findings
from integrations_pipeline.findings.model import SEVERITY_RANK, EvaluationStatus
from integrations_pipeline.findings.store import FindingStore, get_store
from integrations_pipeline.operations.delivery import start_deliverer
from integrations_pipeline.operations.tickets import open_ticket
from integrations_pipeline.orchestration.keys import step_key

WILL_RETRY_TAG = "dagster/will_retry"
FINDINGS_OPEN_TAG = "integrations/findings_open"
MAX_SEVERITY_TAG = "integrations/max_severity"


def failed_run_ticket(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[dict[str, Any] | None, bool]:
    """Open the ticket of a failed run (once); the background deliverer posts it to the webhook.

    A failure that Dagster's run retries will retry opens nothing: the ticket belongs to
    the last attempt, so one failing run makes one ticket.
    """
    run = instance.get_run_by_id(run.run_id) or run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        return None, False
    records = instance.all_logs(run.run_id)
    events = [r.dagster_event for r in records if r.dagster_event is not None]
    integration = integration_of(run)
    prefix = step_key(integration, "")
    failed_tasks = sorted(
        {
            (e.step_key or "").removeprefix(prefix)
            for e in events
            if e.event_type == dg.DagsterEventType.STEP_FAILURE and e.step_key
        }
    )
    summary = "\n".join(run_errors(events)) or "the run failed"
    ticket, created = open_ticket(
        run_id=run.run_id,
        integration=integration,
        deployment=deployment_of(run),
        failed_tasks=failed_tasks,
        error_summary=summary,
    )
    if created:
        start_deliverer()  # returns at once: the post happens in its threads
    return ticket, created


def finalize_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    store: FindingStore | None = None,
    disabled: Sequence[str] = (),
) -> dict[str, Any]:
    """Record the insights of ``run`` that did not run, then alert on its new findings.

    ``disabled``: the integration's insights that are not part of its job (enabled=False).
    """
    store = store or get_store()
    integration = integration_of(run)
    deployment = deployment_of(run)
    if not instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1).records:
        # Refused before any task (its config, its deployment, StageOne): the run's own error
        # (and ticket) says why; no insight was judged, so none is recorded as evaluated.
        return {"recorded": [], "alert": None}
    evaluated = store.evaluated_tasks(run.run_id)
    planned = [
        r.event_log_entry.dagster_event.event_specific_data.asset_check_key.name  # type: ignore[union-attr]
        for r in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
        ).records
        if r.event_log_entry.dagster_event is not None
    ]
    skipped_steps = {
        r.event_log_entry.dagster_event.step_key
        for r in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_SKIPPED).records
        if r.event_log_entry.dagster_event is not None
    }
    missing = [task for task in dict.fromkeys(planned) if task not in evaluated]
    selected = _selected_tasks(run, integration)
    for task in missing:
        skipped = step_key(integration, task) in skipped_steps
        status: EvaluationStatus
        if selected and task not in selected:
            status, message = "skipped", "not selected by 'tasks'"
        elif skipped:
            status, message = "skipped", "not run: a collector it reads was not run"
        else:
            status, message = "error", "not run: a collector it reads failed"
        store.record_evaluation(
            integration=integration, deployment=deployment, task=task, title=task, run_id=run.run_id,
            status=status, message=message,
        )  # fmt: skip
    for task in disabled:
        if task not in evaluated:
            store.record_evaluation(
                integration=integration, deployment=deployment, task=task, title=task, run_id=run.run_id,
                status="skipped", message="not run: disabled",
            )  # fmt: skip
    tags = findings_tags(store, run.run_id)
    if tags:
        instance.add_run_tags(run.run_id, tags)
    alert = alert_new_findings(run, store)
    if alert:
        start_deliverer()  # returns at once: the post happens in its threads
    return {"recorded": [*missing, *disabled], "alert": alert, "tags": tags}


def _selected_tasks(run: dg.DagsterRun, integration: str) -> set[str]:
    """The names the run's ``tasks`` config key selects (empty: all)."""
    run_config: Mapping[str, Any] = run.run_config
    config = ((run_config.get("resources") or {}).get(integration) or {}).get("config") or {}
    tasks = config.get("tasks") if isinstance(config, Mapping) else None
    return {t for t in tasks if isinstance(t, str)} if isinstance(tasks, list) else set()


def findings_tags(store: FindingStore, run_id: str) -> dict[str, str]:
    """The run tags that show, in Dagster's runs list, the open findings a run reported: a
    run that found critical violations still reads "Success" there otherwise."""
    found = store.list_findings(run_id=run_id, status="open", muted=False)
    if not found:
        return {}
    worst = max((f["severity"] for f in found), key=lambda s: SEVERITY_RANK.get(s, -1))
    return {FINDINGS_OPEN_TAG: str(len(found)), MAX_SEVERITY_TAG: worst}


def run_errors(events: Iterable[dg.DagsterEvent]) -> list[str]:
    """The error messages of failed steps, resources and the run, in order."""
    messages = []
    for event in events:
        data = event.event_specific_data
        error = getattr(data, "error", None)
        if error is not None and event.event_type in (
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.RUN_FAILURE,
            dg.DagsterEventType.RESOURCE_INIT_FAILURE,
            dg.DagsterEventType.ENGINE_EVENT,
        ):
            messages.append(_innermost(error))
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            user = getattr(data, "user_failure_data", None)
            if user is not None and user.description:
                messages.append(user.description)
    return list(dict.fromkeys(messages))


def _innermost(error: Any) -> str:
    while getattr(error, "cause", None) is not None:
        error = error.cause
    message = str(error.message).strip()
    # The framework's own errors (and the dg.Failure steps raise with them) name the
    # integration and task: their class path says nothing more.
    kind, said, rest = message.partition(": ")
    ours = kind.startswith("integrations_pipeline.") or kind == "dagster._core.definitions.events.Failure"
    return rest if said and ours else message
