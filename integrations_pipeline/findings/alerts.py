"""Alerts on new findings: a run that opened new findings at or
above ``INTEGRATIONS_ALERT_SEVERITY`` (default high) posts one message, not one per finding,
to ``INTEGRATIONS_WEBHOOK_URL``; muted findings never alert.

The alert and its payload in the webhook outbox are one transaction; the background
deliverer (``integrations_pipeline/operations/delivery.py``) posts it until it is delivered,
with the alert's id as the ``Idempotency-Key``.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.common.runs import integration_of
from integrations_pipeline.db import outbox
from integrations_pipeline.db.engine import Base, utcnow
from integrations_pipeline.findings.model import at_or_above
from integrations_pipeline.findings.store import FindingStore
from integrations_pipeline.http.webhook import WEBHOOK_ENV

if TYPE_CHECKING:
    import dagster as dg

ALERT_SEVERITY_ENV = "INTEGRATIONS_ALERT_SEVERITY"
DEFAULT_ALERT_SEVERITY = "high"


class Alert(Base):
    __tablename__ = "alerts"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The Idempotency-Key of its webhook deliveries (None for alerts before the outbox).
    id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    findings: Mapped[int] = mapped_column(Integer)
    # What versions before the outbox got from the webhook; the outbox keeps it now.
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def alert_new_findings(run: dg.DagsterRun, store: FindingStore) -> str | None:
    """Record one message for the run's new, unmuted findings at or above the threshold, to be
    posted by the deliverer; returns the alert's id, or None when there is nothing (new) to send."""
    threshold = os.environ.get(ALERT_SEVERITY_ENV, DEFAULT_ALERT_SEVERITY)
    # What this run's evaluations opened or reopened, whatever later runs did since.
    opened = {uid for e in store.evaluations(run_id=run.run_id) for uid in e["opened"]}
    if not opened:
        return None
    integration = integration_of(run)
    new = [
        f
        for f in store.list_findings(integration=integration, status="open", muted=False)
        if f["uid"] in opened and at_or_above(f["severity"], threshold)
    ]
    if not new or not os.environ.get(WEBHOOK_ENV):
        return None
    alert_id = str(uuid.uuid4())
    payload = {
        "type": "new_findings",
        "id": alert_id,
        "run_id": run.run_id,
        "integration": integration,
        "deployment": new[0]["deployment"],
        "threshold": threshold,
        "count": len(new),
        "findings": [
            {k: f[k] for k in ("uid", "task", "resource", "title", "severity", "message")} for f in new
        ],
    }
    with Session(store.engine) as session:
        session.add(Alert(run_id=run.run_id, id=alert_id, findings=len(new), created_at=utcnow()))
        outbox.enqueue(session, id=alert_id, kind="alert", payload=payload)
        try:
            session.commit()
        except IntegrityError:
            return None  # this run's alert is recorded already
    return alert_id
