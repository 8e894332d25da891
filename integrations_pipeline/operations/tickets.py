"""Support tickets for failed runs (seed 003's SupportManager), with an optional webhook.

One ticket per failed run (the run id is unique). When ``INTEGRATIONS_WEBHOOK_URL`` is set
the ticket's payload goes into the webhook outbox in the same transaction, and the
background deliverer (``delivery.py``) posts it: never a sensor tick. No secret is in the
payload (messages pass through the process's redaction).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.common.redaction import active_secrets, redact
from integrations_pipeline.db import outbox
from integrations_pipeline.db.engine import Base, as_utc, engine, utcnow, write_engine
from integrations_pipeline.http.webhook import WEBHOOK_ENV

SUMMARY_CHARS = 4_000


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # A run id, or `config:<deployment>:<occurrence>` for a deployment that could not run.
    run_id: Mapped[str] = mapped_column(String(255), unique=True)
    integration: Mapped[str] = mapped_column(String(128), index=True)
    deployment: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    failed_tasks: Mapped[Any] = mapped_column(JSON)
    error_summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Deliveries by versions before the outbox; the outbox keeps them now (see list_tickets).
    webhook: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_deliveries: Mapped[int] = mapped_column(default=0)


def _record(row: TicketRow, webhook: str | None = None) -> dict[str, Any]:
    created = as_utc(row.created_at)
    return {
        "id": row.id,
        "run_id": row.run_id,
        "integration": row.integration,
        "deployment": row.deployment,
        "failed_tasks": list(row.failed_tasks or []),
        "error_summary": row.error_summary,
        "status": row.status,
        "created_at": created.isoformat() if created else None,
        "webhook": webhook or row.webhook,
    }


def open_ticket(
    *,
    run_id: str,
    integration: str,
    deployment: str | None,
    failed_tasks: Sequence[str],
    error_summary: str,
    url: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record a ticket for a failed run; returns (ticket, created). Idempotent per run."""
    summary = redact(error_summary, active_secrets())[:SUMMARY_CHARS]
    with Session(write_engine(url)) as session:
        existing = session.scalar(select(TicketRow).where(TicketRow.run_id == run_id))
        if existing is not None:
            return _record(existing), False
        row = TicketRow(
            id=str(uuid.uuid4()),
            run_id=run_id,
            integration=integration,
            deployment=deployment,
            failed_tasks=list(failed_tasks),
            error_summary=summary,
            status="open",
            created_at=utcnow(),
        )
        session.add(row)
        if os.environ.get(WEBHOOK_ENV):
            kind = "deployment_not_run" if run_id.startswith("config:") else "integration_run_failed"
            outbox.enqueue(session, id=row.id, kind="ticket", payload={"type": kind, "ticket": _record(row)})
        try:
            session.commit()
        except IntegrityError:  # another evaluation of the same failure won the race
            session.rollback()
            found = session.scalar(select(TicketRow).where(TicketRow.run_id == run_id))
            assert found is not None
            return _record(found), False
        return _record(row), True


def list_tickets(status: str | None = None, url: str | None = None) -> list[dict[str, Any]]:
    query = select(TicketRow).order_by(TicketRow.created_at.desc())
    if status:
        query = query.where(TicketRow.status == status)
    with Session(engine(url)) as session:
        rows = list(session.scalars(query))
    delivery = outbox.status(engine(url), [row.id for row in rows])
    return [_record(row, (delivery.get(row.id) or {}).get("result")) for row in rows]
