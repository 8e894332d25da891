"""Support tickets for failed runs (seed 003's SupportManager), with an optional webhook.

One ticket per failed run (the run id is unique). When ``INTEGRATIONS_WEBHOOK_URL`` is set
the ticket is posted there as JSON: timeout, retries with exponential backoff, and no
secret in the payload (messages pass through the process's redaction).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.common.redaction import active_secrets, redact
from integrations_pipeline.db.engine import Base, as_utc, engine, utcnow, write_engine
from integrations_pipeline.http.webhook import WEBHOOK_ENV, WEBHOOK_TIMEOUT_SECONDS, post_webhook

# Deliveries run inside sensor ticks, which Dagster cuts off after 60 s.
DELIVERY_BUDGET_SECONDS = 20.0
MAX_DELIVERIES = 10
SENDING = "sending since "
# Longer than one post can take (attempts x timeout + backoff).
SENDING_LEASE_SECONDS = 60.0
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
    webhook: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_deliveries: Mapped[int] = mapped_column(default=0)


def _record(row: TicketRow) -> dict[str, Any]:
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
        "webhook": row.webhook,
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
        try:
            session.commit()
        except IntegrityError:  # another evaluation of the same failure won the race
            session.rollback()
            found = session.scalar(select(TicketRow).where(TicketRow.run_id == run_id))
            assert found is not None
            return _record(found), False
        return _record(row), True


def deliver_pending(url: str | None = None, budget: float = DELIVERY_BUDGET_SECONDS) -> list[str]:
    """Post tickets not yet delivered to ``INTEGRATIONS_WEBHOOK_URL``, within ``budget`` seconds.

    A delivery that failed is tried again on later calls, up to MAX_DELIVERIES times. Several
    sensors call this at once: each ticket is first claimed (``sending since ...``) with a
    conditional update, so only one of them posts it. A claim older than SENDING_LEASE (its
    process died mid-post) may be taken over.
    """
    if not os.environ.get(WEBHOOK_ENV):
        return []
    deadline = time.monotonic() + budget
    results = []
    with Session(engine(url), expire_on_commit=False) as session:
        pending = session.scalars(
            select(TicketRow)
            .where(TicketRow.webhook_deliveries < MAX_DELIVERIES)
            .where(
                TicketRow.webhook.is_(None)
                | TicketRow.webhook.like("failed%")
                | TicketRow.webhook.like(f"{SENDING}%")
            )
            .order_by(TicketRow.created_at)
        ).all()
    # Each write in a transaction of its own, not inside the read above (see write_engine).
    writer = write_engine(url)
    for row in pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        kind = "deployment_not_run" if row.run_id.startswith("config:") else "integration_run_failed"
        payload = {"type": kind, "ticket": _record(row)}
        if not _claim(writer, row):
            continue
        result = post_webhook(payload, timeout=min(WEBHOOK_TIMEOUT_SECONDS, remaining))
        with Session(writer) as session:
            session.execute(update(TicketRow).where(TicketRow.id == row.id).values(webhook=result))
            session.commit()
        results.append(result)
    return results


def _claim(writer: Engine, row: TicketRow) -> bool:
    """Mark ``row`` as being sent by this caller; False if another caller holds it."""
    if row.webhook and row.webhook.startswith(SENDING):
        since = datetime.fromisoformat(row.webhook.removeprefix(SENDING))
        if (utcnow() - since).total_seconds() < SENDING_LEASE_SECONDS:
            return False
    with Session(writer) as session:
        claimed = session.execute(  # type: ignore[attr-defined]  # an UPDATE's result has rowcount
            update(TicketRow)
            .where(TicketRow.id == row.id)
            .where(TicketRow.webhook_deliveries == row.webhook_deliveries)
            .where(TicketRow.webhook.is_(None) if row.webhook is None else TicketRow.webhook == row.webhook)
            .values(webhook=f"{SENDING}{utcnow().isoformat()}", webhook_deliveries=row.webhook_deliveries + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
    return bool(claimed)


def list_tickets(status: str | None = None, url: str | None = None) -> list[dict[str, Any]]:
    query = select(TicketRow).order_by(TicketRow.created_at.desc())
    if status:
        query = query.where(TicketRow.status == status)
    with Session(engine(url)) as session:
        return [_record(row) for row in session.scalars(query)]
