"""Alerts on new findings: a run that opened new findings at or
above ``INTEGRATIONS_ALERT_SEVERITY`` (default high) posts one message, not one per finding,
to ``INTEGRATIONS_WEBHOOK_URL``; muted findings never alert.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Integer, String, Text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.common.runs import integration_of
from integrations_pipeline.db.engine import Base, utcnow
from integrations_pipeline.findings.model import at_or_above
from integrations_pipeline.findings.store import FindingStore
from integrations_pipeline.http.webhook import WEBHOOK_ENV, post_webhook

if TYPE_CHECKING:
    import dagster as dg

ALERT_SEVERITY_ENV = "INTEGRATIONS_ALERT_SEVERITY"
DEFAULT_ALERT_SEVERITY = "high"


class Alert(Base):
    __tablename__ = "alerts"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    findings: Mapped[int] = mapped_column(Integer)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def alert_new_findings(run: dg.DagsterRun, store: FindingStore) -> str | None:
    """Post one message for the run's new, unmuted findings at or above the threshold."""
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
    with Session(store.engine) as session:
        session.add(Alert(run_id=run.run_id, findings=len(new), created_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:
            return None  # this run's alert was sent already
        payload = {
            "type": "new_findings",
            "run_id": run.run_id,
            "integration": integration_of(run),
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
