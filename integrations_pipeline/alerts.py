"""After a run: complete its evaluation history and alert once on its new findings.

Insights that never ran are recorded as ``skipped`` (not selected, or a collector they read
was not) or ``error`` (a collector they read failed). A run that opened new findings at or
above ``INTEGRATIONS_ALERT_SEVERITY`` (default high) posts one message, not one per finding,
to ``INTEGRATIONS_WEBHOOK_URL``; muted findings never alert.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dagster as dg
from sqlalchemy import DateTime, Integer, String, Text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.database import Base, utcnow
from integrations_pipeline.store import FindingStore, at_or_above, get_store

ALERT_SEVERITY_ENV = "INTEGRATIONS_ALERT_SEVERITY"
DEFAULT_ALERT_SEVERITY = "high"


class Alert(Base):
    __tablename__ = "alerts"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    findings: Mapped[int] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def finalize_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    store: FindingStore | None = None,
    disabled: Sequence[str] = (),
) -> dict[str, Any]:
    """Record the insights of ``run`` that did not run, then alert on its new findings.

    ``disabled``: the integration's insights that are not part of its job (enabled=False).
    """
    from integrations_pipeline.compile import deployment_of

    store = store or get_store()
    integration = run.tags.get("integration") or run.job_name
    deployment = deployment_of(run)
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
    for task in missing:
        skipped = f"{integration}__{task}" in skipped_steps
        store.record_evaluation(
            integration=integration, deployment=deployment, task=task, title=task, run_id=run.run_id,
            status="skipped" if skipped else "error",
            message="not run: a collector it reads was not run" if skipped
            else "not run: a collector it reads failed",
        )  # fmt: skip
    for task in disabled:
        if task not in evaluated:
            store.record_evaluation(
                integration=integration, deployment=deployment, task=task, title=task, run_id=run.run_id,
                status="skipped", message="not run: disabled",
            )  # fmt: skip
    return {"recorded": [*missing, *disabled], "alert": alert_new_findings(run, store)}


def alert_new_findings(run: dg.DagsterRun, store: FindingStore) -> str | None:
    """Post one message for the run's new, unmuted findings at or above the threshold."""
    from integrations_pipeline.tickets import post_webhook

    threshold = os.environ.get(ALERT_SEVERITY_ENV, DEFAULT_ALERT_SEVERITY)
    # What this run's evaluations opened or reopened, whatever later runs did since.
    opened = {uid for e in store.evaluations(run_id=run.run_id) for uid in e["opened"]}
    if not opened:
        return None
    integration = run.tags.get("integration") or run.job_name
    new = [
        f
        for f in store.list_findings(integration=integration, status="open", muted=False)
        if f["uid"] in opened and at_or_above(f["severity"], threshold)
    ]
    if not new or not os.environ.get("INTEGRATIONS_WEBHOOK_URL"):
        return None
    with Session(store.engine) as session:
        session.add(Alert(run_id=run.run_id, findings=len(new), created_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:
            return None  # this run's alert was sent already
        payload = {
            "type": "new_findings",
            "run_id": run.run_id,
            "integration": run.tags.get("integration") or run.job_name,
            "deployment": new[0]["deployment"],
            "threshold": threshold,
            "count": len(new),
            "findings": [
                {k: f[k] for k in ("uid", "task", "resource", "title", "severity", "message")} for f in new
            ],
        }
        result = post_webhook(payload)
        # A write without a read first: it waits its turn on SQLite (see write_engine).
        session.execute(update(Alert).where(Alert.run_id == run.run_id).values(result=result))
        session.commit()
        return result
