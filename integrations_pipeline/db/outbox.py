"""The webhook outbox: payloads waiting to be posted to ``INTEGRATIONS_WEBHOOK_URL``.

Tickets (operations/) and alerts (findings/) add their payload here in the transaction that
records them; the deliverer (``integrations_pipeline/operations/delivery.py``) posts them
later, outside any sensor tick, until one is delivered. A row's id is the ticket's or
alert's id, sent as the ``Idempotency-Key`` header on every attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.db.engine import Base, as_utc, utcnow


class OutboxRow(Base):
    __tablename__ = "webhook_outbox"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the next attempt may start; None once delivered.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # A deliverer's claim: others leave the row alone until then (a dead one's claim expires).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)


def enqueue(session: Session, *, id: str, kind: str, payload: dict[str, Any]) -> None:
    """Add a payload to post, in the caller's transaction (committed with what it records)."""
    now = utcnow()
    session.add(OutboxRow(id=id, kind=kind, payload=payload, created_at=now, attempts=0, next_attempt_at=now))


def due(bound: Engine, limit: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Ids of undelivered payloads whose next attempt is due and that nobody holds."""
    now = utcnow()
    query = (
        select(OutboxRow.id)
        .where(OutboxRow.delivered_at.is_(None), OutboxRow.next_attempt_at <= now)
        .where(OutboxRow.claimed_until.is_(None) | (OutboxRow.claimed_until < now))
        .order_by(OutboxRow.next_attempt_at)
        .limit(limit + len(exclude))
    )
    with Session(bound) as session:
        return [i for i in session.scalars(query) if i not in exclude][:limit]


def claim(bound: Engine, id: str, lease: float) -> OutboxRow | None:
    """Hold row ``id`` for ``lease`` seconds and count an attempt; None if it is not due, is
    delivered, or another deliverer holds it (a conditional update: one claimant wins)."""
    now = utcnow()
    with Session(bound, expire_on_commit=False) as session:
        claimed = session.execute(  # type: ignore[attr-defined]  # an UPDATE's result has rowcount
            update(OutboxRow)
            .where(OutboxRow.id == id, OutboxRow.delivered_at.is_(None), OutboxRow.next_attempt_at <= now)
            .where(OutboxRow.claimed_until.is_(None) | (OutboxRow.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=lease), attempts=OutboxRow.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        return session.get(OutboxRow, id) if claimed else None


def finish(bound: Engine, id: str, attempt: int, result: str, retry_in: float | None) -> None:
    """Record attempt number ``attempt``: delivered (``retry_in`` None) or due again in
    ``retry_in`` seconds. A later attempt (this one outlived its claim) has the last word."""
    now = utcnow()
    values: dict[str, Any] = {"result": result, "claimed_until": None}
    if retry_in is None:
        values.update(delivered_at=now, next_attempt_at=None)
    else:
        values["next_attempt_at"] = now + timedelta(seconds=retry_in)
    with Session(bound) as session:
        session.execute(
            update(OutboxRow).where(OutboxRow.id == id, OutboxRow.attempts == attempt).values(**values)
        )
        session.commit()


def status(bound: Engine, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each row's delivery: result, attempts, delivered_at (tickets show it)."""
    if not ids:
        return {}
    with Session(bound) as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids))).all()
        return {
            r.id: {"result": r.result, "attempts": r.attempts, "delivered_at": as_utc(r.delivered_at)}
            for r in rows
        }
