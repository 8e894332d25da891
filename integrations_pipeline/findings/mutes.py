"""Mutes: findings matching a scope keep updating but are flagged muted and never alert.

A mute's scope is an integration, optionally a deployment and a task, and a resource
pattern (shell-style, e.g. ``arn:aws:s3:::logs-*``). A mute with an expiry stops applying
by itself when it passes.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.db.engine import Base, as_utc, engine, utcnow
from integrations_pipeline.findings.model import storable_text

PATTERN_LENGTH = 512


class Mute(Base):
    __tablename__ = "mutes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    integration: Mapped[str] = mapped_column(String(128), index=True)
    deployment: Mapped[str | None] = mapped_column(String(256), nullable=True)
    task: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resource_pattern: Mapped[str | None] = mapped_column(String(PATTERN_LENGTH), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MuteIndex:
    """Active mutes grouped by integration, so checking many findings stays cheap."""

    def __init__(self, mutes: Sequence[Mute]) -> None:
        self._by_integration: dict[str, list[Mute]] = {}
        for mute in mutes:
            self._by_integration.setdefault(mute.integration, []).append(mute)

    @classmethod
    def active(cls, session: Session, now: datetime) -> MuteIndex:
        return cls(active_mutes(session, now))

    def muted(self, integration: str, deployment: str | None, task: str, resource: str | None) -> bool:
        mutes = self._by_integration.get(integration)
        return bool(mutes) and is_muted(mutes, integration, deployment, task, resource)  # type: ignore[arg-type]


def active_mutes(session: Session, now: datetime) -> list[Mute]:
    return list(session.scalars(select(Mute).where(or_(Mute.expires_at.is_(None), Mute.expires_at > now))))


def is_muted(
    mutes: Sequence[Mute], integration: str, deployment: str | None, task: str, resource: str | None
) -> bool:
    return any(
        mute.integration == integration
        and (mute.deployment is None or mute.deployment == deployment)
        and (mute.task is None or mute.task == task)
        and (mute.resource_pattern is None or fnmatch.fnmatchcase(resource or "", mute.resource_pattern))
        for mute in mutes
    )


def _record(mute: Mute, now: datetime) -> dict[str, Any]:
    expires = as_utc(mute.expires_at)
    return {
        "id": mute.id,
        "integration": mute.integration,
        "deployment": mute.deployment,
        "task": mute.task,
        "resource_pattern": mute.resource_pattern,
        "reason": mute.reason,
        "expires_at": expires.isoformat() if expires else None,
        "created_at": as_utc(mute.created_at).isoformat(),  # type: ignore[union-attr]
        "active": expires is None or expires > now,
    }


def add_mute(
    *,
    integration: str,
    reason: str,
    deployment: str | None = None,
    task: str | None = None,
    resource_pattern: str | None = None,
    expires_at: datetime | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    if not reason or not reason.strip():
        raise IntegrationError("a mute needs a reason", integration=integration)
    # Stored as findings are: a pattern with NUL matches the resources stored with U+FFFD.
    reason = storable_text(reason)
    if resource_pattern is not None:
        resource_pattern = storable_text(resource_pattern)
        if len(resource_pattern) > PATTERN_LENGTH:
            raise IntegrationError(
                f"the resource pattern is {len(resource_pattern)} characters, longer than the "
                f"{PATTERN_LENGTH} a pattern may have",
                integration=integration,
            )
    now = utcnow()
    if expires_at is not None:
        # Stored in UTC: SQLite keeps the wall time of whatever offset it is given.
        expires_at = as_utc(expires_at).astimezone(UTC)  # type: ignore[union-attr]
    if expires_at is not None and expires_at <= now:
        raise IntegrationError(f"the expiry {expires_at.isoformat()} is in the past", integration=integration)
    mute = Mute(
        id=str(uuid.uuid4()), integration=integration, deployment=deployment, task=task,
        resource_pattern=resource_pattern, reason=reason.strip(), expires_at=expires_at, created_at=now,
    )  # fmt: skip
    with Session(engine(url)) as session, session.begin():
        session.add(mute)
        session.flush()
        return _record(mute, now)


def list_mutes(include_expired: bool = False, url: str | None = None) -> list[dict[str, Any]]:
    now = utcnow()
    with Session(engine(url)) as session:
        mutes = session.scalars(select(Mute).order_by(Mute.created_at)).all()
        return [r for r in (_record(m, now) for m in mutes) if include_expired or r["active"]]


def remove_mute(mute_id: str, url: str | None = None) -> None:
    with Session(engine(url)) as session, session.begin():
        if session.execute(delete(Mute).where(Mute.id == mute_id)).rowcount == 0:  # type: ignore[attr-defined]
            raise IntegrationError(f"no mute with id {mute_id}")
