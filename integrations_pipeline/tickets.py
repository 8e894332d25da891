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

import httpx
from sqlalchemy import JSON, DateTime, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.config import redact
from integrations_pipeline.database import Base, as_utc, engine, utcnow
from integrations_pipeline.redaction import active_secrets

WEBHOOK_ENV = "INTEGRATIONS_WEBHOOK_URL"
WEBHOOK_TIMEOUT_SECONDS = 10.0
WEBHOOK_ATTEMPTS = 4
WEBHOOK_BACKOFF_SECONDS = 0.5
SUMMARY_CHARS = 4_000


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    integration: Mapped[str] = mapped_column(String(128), index=True)
    deployment: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    failed_tasks: Mapped[Any] = mapped_column(JSON)
    error_summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    webhook: Mapped[str | None] = mapped_column(Text, nullable=True)


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
    with Session(engine(url)) as session:
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


def set_webhook_result(ticket_id: str, result: str, url: str | None = None) -> None:
    with Session(engine(url)) as session, session.begin():
        row = session.get(TicketRow, ticket_id)
        if row is not None:
            row.webhook = result


def list_tickets(status: str | None = None, url: str | None = None) -> list[dict[str, Any]]:
    query = select(TicketRow).order_by(TicketRow.created_at.desc())
    if status:
        query = query.where(TicketRow.status == status)
    with Session(engine(url)) as session:
        return [_record(row) for row in session.scalars(query)]


def post_webhook(
    payload: dict[str, Any],
    url: str | None = None,
    *,
    attempts: int = WEBHOOK_ATTEMPTS,
    timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    backoff: float = WEBHOOK_BACKOFF_SECONDS,
) -> str:
    """POST ``payload`` as JSON; retries connection errors, 429 and 5xx with backoff.

    Returns what happened ("delivered (HTTP 200)" or the last error), never raises.
    """
    url = url or os.environ.get(WEBHOOK_ENV)
    if not url:
        return "not configured"
    last = ""
    with httpx.Client(timeout=timeout) as client:
        for attempt in range(attempts):
            try:
                response = client.post(url, json=payload)
                if response.status_code < 300:
                    return f"delivered (HTTP {response.status_code})"
                last = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            if attempt + 1 < attempts:
                time.sleep(backoff * 2**attempt)
    return f"failed after {attempt + 1} attempt(s): {last}"
