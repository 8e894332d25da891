"""The application database: violations of insights (SQLite by default, PostgreSQL by URL).

A violation's identity is (integration, deployment, task): a repeated violation updates
``last_seen``; a later passing evaluation marks it resolved. Writes are single atomic
upserts so concurrent runs never duplicate a row.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.database import Base, as_utc, database_url, engine, utcnow


class Violation(Base):
    __tablename__ = "violations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    integration: Mapped[str] = mapped_column(String(128), index=True)
    deployment: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    task: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(512))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    run_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


VIOLATION_FIELDS = (
    "id", "integration", "deployment", "task", "title", "severity", "message", "status",
    "first_seen", "last_seen", "resolved_at", "run_id", "data",
)  # fmt: skip


def violation_uid(integration: str, deployment: str | None, task: str) -> str:
    key = "\x1f".join((integration, deployment or "", task))
    return hashlib.sha256(key.encode()).hexdigest()


def to_record(row: Violation) -> dict[str, Any]:
    record = {name: getattr(row, name) for name in VIOLATION_FIELDS}
    for name in ("first_seen", "last_seen", "resolved_at"):
        value = as_utc(record[name])
        record[name] = value.isoformat() if value else None
    return record


class ViolationStore:
    """Reads and writes violations in one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine(url)

    def record_evaluation(
        self,
        *,
        integration: str,
        deployment: str | None,
        task: str,
        title: str,
        severity: str,
        violation: bool,
        message: str | None,
        data: Any,
        run_id: str,
    ) -> str | None:
        """Store one insight evaluation; returns the violation's status afterwards, if any."""
        uid = violation_uid(integration, deployment, task)
        now = utcnow()
        with self.engine.begin() as connection:
            if not violation:
                result = connection.execute(
                    update(Violation)
                    .where(Violation.uid == uid, Violation.status == "open")
                    .values(status="resolved", resolved_at=now, run_id=run_id)
                )
                return "resolved" if result.rowcount else None
            values = {
                "id": str(uuid.uuid4()),
                "uid": uid,
                "integration": integration,
                "deployment": deployment,
                "task": task,
                "title": title,
                "severity": severity,
                "message": message,
                "status": "open",
                "first_seen": now,
                "last_seen": now,
                "resolved_at": None,
                "run_id": run_id,
                "data": data,
            }
            changes = {
                k: values[k]
                for k in (
                    "title",
                    "severity",
                    "message",
                    "status",
                    "last_seen",
                    "resolved_at",
                    "run_id",
                    "data",
                )
            }
            insert = _insert_for(connection.dialect.name)(Violation).values(**values)
            connection.execute(insert.on_conflict_do_update(index_elements=["uid"], set_=changes))
            return "open"

    def list_violations(
        self,
        *,
        status: str | None = None,
        integration: str | None = None,
        severity: str | None = None,
        deployment: str | None = None,
    ) -> list[dict[str, Any]]:
        query = select(Violation).order_by(Violation.last_seen.desc(), Violation.id)
        for column, value in (
            (Violation.status, status),
            (Violation.integration, integration),
            (Violation.severity, severity),
            (Violation.deployment, deployment),
        ):
            if value is not None:
                query = query.where(column == value)
        with Session(self.engine) as session:
            rows: Sequence[Violation] = session.scalars(query).all()
        return [to_record(row) for row in rows]


def _insert_for(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def get_store(url: str | None = None) -> ViolationStore:
    """The store for ``url`` (default: :func:`database_url`)."""
    return ViolationStore(url or database_url())
