"""Findings and the history of insight evaluations (the application database).

A finding is identified by (integration, deployment, task, resource): an insight's
``violation: True`` is the finding without a resource; each item of ``violations: [...]``
is a finding of its own resource. Lifecycle: open -> resolved (a later evaluation that
ran no longer reports it) -> open again (counted in ``reopened``). Only an evaluation that
ran (passed or violation) resolves; error and skipped evaluations are recorded and resolve
nothing. Each evaluation is one transaction, serialized per insight and deployment, so
concurrent runs never lose or duplicate a finding.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, and_, or_, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.db.engine import Base, as_utc, database_url, engine, utcnow, write_engine
from integrations_pipeline.findings.model import (
    PREVIEW_FINDINGS,
    EvaluationStatus,
    EvaluationSummary,
    FindingDataError,
    ReportedFinding,
    finding_uid,
    merge_reported,
    storable_finding,
    storable_text,
)

RESOURCE_LENGTH = 512
TITLE_LENGTH = 512


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    integration: Mapped[str] = mapped_column(String(128), index=True)
    deployment: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    task: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str | None] = mapped_column(String(RESOURCE_LENGTH), nullable=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    integration: Mapped[str] = mapped_column(String(128))
    deployment: Mapped[str | None] = mapped_column(String(256), nullable=True)
    task: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    resolved_count: Mapped[int] = mapped_column(Integer, default=0)
    muted_count: Mapped[int] = mapped_column(Integer, default=0)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[Any] = mapped_column(JSON, nullable=True)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


FINDING_FIELDS = (
    "id",
    "uid",
    "integration",
    "deployment",
    "task",
    "resource",
    "title",
    "severity",
    "message",
    "status",
    "muted",
    "first_seen",
    "last_seen",
    "resolved_at",
    "occurrences",
    "reopened",
    "run_id",
    "data",
)


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value else None


def to_record(row: Finding, muted: bool) -> dict[str, Any]:
    record = {name: getattr(row, name) for name in FINDING_FIELDS if name != "muted"}
    for name in ("first_seen", "last_seen", "resolved_at"):
        record[name] = _iso(record[name])
    record["muted"] = muted
    return {name: record[name] for name in FINDING_FIELDS}


def _storable(reported: Sequence[ReportedFinding], integration: str, task: str) -> list[ReportedFinding]:
    """The findings as both databases store them; what cannot be stored is one clear error."""
    storable = []
    for finding in reported:
        where = "the insight's finding" if finding.resource is None else f"finding {finding.resource[:80]!r}"
        try:
            cleaned = storable_finding(finding)
        except FindingDataError as error:
            raise IntegrationError(f"{where}: {error}", integration=integration, task=task) from None
        if cleaned.resource is not None and len(cleaned.resource) > RESOURCE_LENGTH:
            raise IntegrationError(
                f"{where}: resource is {len(cleaned.resource)} characters, "
                f"longer than the {RESOURCE_LENGTH} a resource may have",
                integration=integration,
                task=task,
            )
        storable.append(cleaned)
    return storable


def _fit(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, ending in '…' when it was cut."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _lock_key(uid: str) -> int:
    return int(uid[:15], 16)  # fits a signed 64-bit advisory lock key


class FindingStore:
    """Findings, evaluations and mutes in one database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.engine = engine(self.url)
        self.writer = write_engine(self.url)

    def record_evaluation(
        self,
        *,
        integration: str,
        deployment: str | None,
        task: str,
        title: str,
        run_id: str,
        status: EvaluationStatus,
        message: str | None = None,
        reported: Sequence[ReportedFinding] = (),
        complete: bool = True,
    ) -> EvaluationSummary:
        """Store one insight evaluation and apply it to the findings, in one transaction.

        ``complete=False`` (a collector it read, or the insight, recorded errors): the
        evaluation opens and updates findings but resolves none, as it may not have seen
        every resource.
        """
        from integrations_pipeline.findings.mutes import MuteIndex

        reported = merge_reported(_storable(reported, integration, task))
        title = _fit(storable_text(title), TITLE_LENGTH)
        message = None if message is None else storable_text(message)
        now = utcnow()
        summary = EvaluationSummary(status=status)
        with Session(self.writer) as session:
            self._begin_serialized(session, finding_uid(integration, deployment, task))
            mutes = MuteIndex.active(session, now)
            if status in ("passed", "violation"):
                self._apply(
                    session,
                    integration,
                    deployment,
                    task,
                    title,
                    run_id,
                    reported,
                    now,
                    summary,
                    mutes,
                    complete,
                )
                summary.muted = sum(
                    1 for f in reported if mutes.muted(integration, deployment, task, f.resource)
                )
            session.add(
                Evaluation(
                    id=str(uuid.uuid4()),
                    run_id=run_id,
                    integration=integration,
                    deployment=deployment,
                    task=task,
                    status=status,
                    message=message,
                    open_count=summary.open,
                    new_count=summary.new,
                    resolved_count=summary.resolved,
                    muted_count=summary.muted,
                    reopened_count=summary.reopened,
                    opened=summary.opened,
                    evaluated_at=now,
                )
            )
            session.commit()
        return summary

    def _begin_serialized(self, session: Session, key: str) -> None:
        # Evaluations of one insight and deployment run one after the other: PostgreSQL by
        # an advisory lock; SQLite transactions take the write lock as they begin.
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(key)})

    def _apply(
        self,
        session: Session,
        integration: str,
        deployment: str | None,
        task: str,
        title: str,
        run_id: str,
        reported: Sequence[ReportedFinding],
        now: datetime,
        summary: EvaluationSummary,
        mutes: Any,
        complete: bool,
    ) -> None:
        deployment_match = (
            Finding.deployment.is_(None) if deployment is None else Finding.deployment == deployment
        )
        uids = {finding_uid(integration, deployment, task, f.resource): f for f in reported}
        existing = {
            row.uid: row
            for row in session.scalars(
                # Only what this evaluation can change: open findings, and those it reports.
                select(Finding).where(
                    and_(Finding.integration == integration, deployment_match, Finding.task == task),
                    or_(Finding.status == "open", Finding.uid.in_(list(uids))),
                )
            )
        }
        for uid, finding in uids.items():
            row = existing.get(uid)
            if row is None:
                row = Finding(
                    id=str(uuid.uuid4()),
                    uid=uid,
                    integration=integration,
                    deployment=deployment,
                    task=task,
                    resource=finding.resource,
                    title=title,
                    severity=finding.severity,
                    message=finding.message,
                    status="open",
                    first_seen=now,
                    last_seen=now,
                    resolved_at=None,
                    occurrences=1,
                    reopened=0,
                    run_id=run_id,
                    data=finding.data,
                )
                session.add(row)
                summary.new += 1
                summary.opened.append(uid)
            else:
                if row.status == "resolved":
                    row.reopened += 1
                    summary.reopened += 1
                    summary.opened.append(uid)
                row.status, row.resolved_at = "open", None
                row.occurrences += 1
                row.last_seen, row.run_id = now, run_id
                row.title, row.severity, row.message, row.data = (
                    title,
                    finding.severity,
                    finding.message,
                    finding.data,
                )
            summary.open += 1
            if len(summary.preview) < PREVIEW_FINDINGS:
                summary.preview.append(
                    {
                        "resource": finding.resource,
                        "severity": finding.severity,
                        "message": finding.message,
                        "muted": mutes.muted(integration, deployment, task, finding.resource),
                        "new": uid in summary.opened,
                    }
                )
        for uid, row in existing.items():
            if complete and uid not in uids and row.status == "open":
                row.status, row.resolved_at, row.run_id = "resolved", now, run_id
                summary.resolved += 1

    def list_findings(
        self,
        *,
        status: str | None = None,
        integration: str | None = None,
        severity: str | None = None,
        deployment: str | None = None,
        task: str | None = None,
        since: datetime | None = None,
        muted: bool | None = None,
        run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        from integrations_pipeline.findings.mutes import MuteIndex

        query = select(Finding).order_by(Finding.last_seen.desc(), Finding.id)
        for column, value in (
            (Finding.status, status),
            (Finding.integration, integration),
            (Finding.severity, severity),
            (Finding.deployment, deployment),
            (Finding.task, task),
            (Finding.run_id, run_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(Finding.last_seen >= since.astimezone(UTC))
        with Session(self.engine) as session:
            mutes = MuteIndex.active(session, utcnow())
            records = [
                to_record(row, mutes.muted(row.integration, row.deployment, row.task, row.resource))
                for row in session.scalars(query)
            ]
        return [r for r in records if muted is None or r["muted"] == muted]

    def evaluations(
        self, *, integration: str | None = None, deployment: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(Evaluation).order_by(Evaluation.evaluated_at, Evaluation.task)
        for column, value in (
            (Evaluation.integration, integration),
            (Evaluation.deployment, deployment),
            (Evaluation.run_id, run_id),
        ):
            if value is not None:
                query = query.where(column == value)
        with Session(self.engine) as session:
            return [
                {
                    "run_id": row.run_id,
                    "integration": row.integration,
                    "deployment": row.deployment,
                    "task": row.task,
                    "status": row.status,
                    "message": row.message,
                    "open": row.open_count,
                    "new": row.new_count,
                    "resolved": row.resolved_count,
                    "muted": row.muted_count,
                    "reopened": row.reopened_count,
                    "opened": list(row.opened or []),
                    "evaluated_at": _iso(row.evaluated_at),
                }
                for row in session.scalars(query)
            ]

    def evaluated_tasks(self, run_id: str) -> set[str]:
        with Session(self.engine) as session:
            return set(session.scalars(select(Evaluation.task).where(Evaluation.run_id == run_id)))


def get_store(url: str | None = None) -> FindingStore:
    """The store for ``url`` (default: :func:`database_url`)."""
    return FindingStore(url)
