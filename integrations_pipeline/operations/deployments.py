"""Deployments: one integration + one customer's config + when to run it.

Stored in the application database. A deployment's config is checked against the
integration's JSON Schema when saved; secret fields must be ``{env: VAR}`` references.
The scheduler sensor (orchestration/sensors.py) launches a run for each cron slot that is due.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import JSON, Boolean, DateTime, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.catalog.config import check_stored_config
from integrations_pipeline.catalog.discovery import Catalog, check_task_names
from integrations_pipeline.common.errors import IntegrationConfigError, IntegrationError
from integrations_pipeline.db.engine import Base, as_utc, engine, utcnow, write_engine

# Partition keys, run keys and tags: letters, digits, '-', '_' and '.'. Used with fullmatch:
# '$' would let a trailing newline through.
DEPLOYMENT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
SCHEDULE_LENGTH = 128
RESERVED_NAMES = frozenset({"adhoc"})
FIELDS = ("name", "integration", "config", "schedule", "timezone", "paused")


class DeploymentError(IntegrationError):
    """A deployment cannot be saved or found; the message names the deployment and field."""


class DeploymentRow(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    integration: Mapped[str] = mapped_column(String(128), index=True)
    config: Mapped[Any] = mapped_column(JSON)
    schedule: Mapped[str | None] = mapped_column(String(SCHEDULE_LENGTH), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Slots before this time are never run: when the schedule was set or last changed.
    schedule_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set by `run-now`; the scheduler launches one run for it and clears it.
    run_requested: Mapped[str | None] = mapped_column(String(36), nullable=True)


@dataclass(frozen=True)
class Deployment:
    name: str
    integration: str
    config: dict[str, Any]
    schedule: str | None = None
    timezone: str = "UTC"
    paused: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    schedule_start: datetime | None = None
    run_requested: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in FIELDS}
        for name in ("created_at", "updated_at"):
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        return data


def _from_row(row: DeploymentRow) -> Deployment:
    return Deployment(
        name=row.name,
        integration=row.integration,
        config=dict(row.config or {}),
        schedule=row.schedule,
        timezone=row.timezone,
        paused=row.paused,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        schedule_start=as_utc(row.schedule_start),
        run_requested=row.run_requested,
    )


def is_valid_cron(expression: str) -> bool:
    # Dagster's own parser, so a schedule accepted here is one its daemon understands.
    from dagster._utils.schedules import is_valid_cron_string

    return is_valid_cron_string(expression)


def latest_slot(schedule: str, timezone: str, now: datetime) -> datetime:
    """The latest cron tick at or before ``now``."""
    from dagster._utils.schedules import get_latest_completed_cron_tick

    return get_latest_completed_cron_tick(schedule, now, timezone)


def due_slot(deployment: Deployment, now: datetime) -> datetime | None:
    """The slot to run now: the latest tick, if it is not before the schedule started.

    Only the latest tick counts, so slots missed while the daemon was down run once.
    A tick in the minute the schedule was set counts (so `* * * * *` runs at once).
    """
    if deployment.paused or not deployment.schedule:
        return None
    slot = latest_slot(deployment.schedule, deployment.timezone, now)
    start = deployment.schedule_start
    if start is not None and slot < start.replace(second=0, microsecond=0):
        return None
    return slot


def validate(deployment: Deployment, catalog: Catalog) -> None:
    """Refuse a deployment that could not run: the error names the deployment and field."""
    name = deployment.name
    if not isinstance(name, str) or not DEPLOYMENT_NAME.fullmatch(name):
        raise DeploymentError(
            f"deployment name {name!r} does not fit: lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 128 characters"
        )
    if name in RESERVED_NAMES:
        raise DeploymentError(f"deployment name {name!r} is reserved (ad-hoc runs use it)")
    integration = catalog.integrations.get(deployment.integration)
    if integration is None:
        problems = "; ".join(p.message for p in catalog.problems_of(deployment.integration))
        raise DeploymentError(
            f"deployment '{name}': integration '{deployment.integration}' is not available"
            + (f" ({problems})" if problems else " (unknown or disabled)")
        )
    if isinstance(deployment.schedule, str) and len(deployment.schedule) > SCHEDULE_LENGTH:
        raise DeploymentError(
            f"deployment '{name}': field 'schedule' is {len(deployment.schedule)} characters, "
            f"longer than the {SCHEDULE_LENGTH} a schedule may have"
        )
    if deployment.schedule is not None and (
        not isinstance(deployment.schedule, str) or not is_valid_cron(deployment.schedule)
    ):
        raise DeploymentError(
            f"deployment '{name}': field 'schedule': {deployment.schedule!r} is not a valid cron expression"
        )
    try:
        ZoneInfo(deployment.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeploymentError(
            f"deployment '{name}': field 'timezone': unknown time zone {deployment.timezone!r}"
        ) from None
    if not isinstance(deployment.config, Mapping):
        raise DeploymentError(f"deployment '{name}': field 'config' must be a mapping")
    try:
        check_stored_config(integration.name, integration.schema, deployment.config)
        check_task_names(integration, deployment.config.get("tasks") or ())
    except IntegrationConfigError as error:
        raise DeploymentError(f"deployment '{name}': {error}") from None


class DeploymentStore:
    """Deployments in the application database."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = engine(url)
        self.writer = write_engine(url)  # reads, then writes

    def get(self, name: str) -> Deployment:
        with Session(self.engine) as session:
            row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
            if row is None:
                raise DeploymentError(f"no deployment named '{name}'")
            return _from_row(row)

    def find(self, name: str) -> Deployment | None:
        try:
            return self.get(name)
        except DeploymentError:
            return None

    def all(self, integration: str | None = None) -> list[Deployment]:
        query = select(DeploymentRow).order_by(DeploymentRow.name)
        if integration:
            query = query.where(DeploymentRow.integration == integration)
        with Session(self.engine) as session:
            return [_from_row(row) for row in session.scalars(query)]

    def add(self, deployment: Deployment, catalog: Catalog) -> Deployment:
        validate(deployment, catalog)
        with Session(self.writer) as session, session.begin():
            if session.scalar(select(DeploymentRow.id).where(DeploymentRow.name == deployment.name)):
                raise DeploymentError(f"deployment '{deployment.name}' exists already; use update")
            _insert(session, deployment)
        return self.get(deployment.name)

    def update(self, name: str, catalog: Catalog, **changes: Any) -> tuple[Deployment, list[str]]:
        """Change some fields; returns the deployment and the names of the fields changed."""
        current = self.get(name)
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise DeploymentError(f"deployment '{name}': unknown field(s) {sorted(unknown)}")
        if changes.get("name", name) != name:
            raise DeploymentError(f"deployment '{name}': a deployment cannot be renamed; add a new one")
        wanted = {k: v for k, v in changes.items() if getattr(current, k) != v}
        if not wanted:
            return current, []
        updated = Deployment(**{**{f: getattr(current, f) for f in FIELDS}, **wanted})
        if set(wanted) != {"paused"}:  # pausing a deployment that went bad must always work
            validate(updated, catalog)
        with Session(self.writer) as session, session.begin():
            row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
            assert row is not None
            _change(row, wanted)
        return self.get(name), sorted(wanted)

    def remove(self, name: str) -> None:
        """Delete the deployment; its violations and Dagster runs are kept."""
        self.get(name)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(DeploymentRow).where(DeploymentRow.name == name))

    def request_run(self, name: str) -> str:
        """Ask the scheduler for one run now; returns the request's id."""
        self.get(name)
        token = str(uuid.uuid4())
        with Session(self.writer) as session, session.begin():
            row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
            assert row is not None
            row.run_requested = token
        return token

    def clear_run_request(self, name: str, token: str) -> None:
        with Session(self.writer) as session, session.begin():
            row = session.scalar(select(DeploymentRow).where(DeploymentRow.name == name))
            if row is not None and row.run_requested == token:
                row.run_requested = None

    def apply(
        self, wanted: Iterable[Deployment], catalog: Catalog, *, prune: bool = False, dry_run: bool = False
    ) -> list[str]:
        """Make the stored deployments match ``wanted``; returns one line per change.

        Everything is validated before anything is written.
        """
        wanted = list(wanted)
        names = [d.name for d in wanted]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DeploymentError(f"deployments listed twice: {', '.join(duplicates)}")
        for deployment in wanted:
            validate(deployment, catalog)
        changes: list[str] = []
        # One transaction: either every change is written or none.
        with Session(self.engine) as session, session.begin():
            rows = {row.name: row for row in session.scalars(select(DeploymentRow))}
            for deployment in wanted:
                row = rows.get(deployment.name)
                if row is None:
                    changes.append(f"create {deployment.name} ({deployment.integration})")
                    if not dry_run:
                        _insert(session, deployment)
                    continue
                current = _from_row(row)
                differing = {
                    f: getattr(deployment, f)
                    for f in FIELDS
                    if f != "name" and getattr(current, f) != getattr(deployment, f)
                }
                if differing:
                    changes.append(f"update {deployment.name}: {', '.join(sorted(differing))}")
                    if not dry_run:
                        _change(row, differing)
            if prune:
                for name in sorted(set(rows) - set(names)):
                    changes.append(f"remove {name}")
                    if not dry_run:
                        session.delete(rows[name])
            if dry_run:
                session.rollback()
        return changes


def _insert(session: Session, deployment: Deployment) -> None:
    now = utcnow()
    session.add(
        DeploymentRow(
            id=str(uuid.uuid4()),
            name=deployment.name,
            integration=deployment.integration,
            config=deployment.config,
            schedule=deployment.schedule,
            timezone=deployment.timezone,
            paused=deployment.paused,
            created_at=now,
            updated_at=now,
            schedule_start=now,
        )
    )


def _change(row: DeploymentRow, wanted: Mapping[str, Any]) -> None:
    now = utcnow()
    for key, value in wanted.items():
        setattr(row, key, value)
    row.updated_at = now
    if {"schedule", "timezone"} & set(wanted) or wanted.get("paused") is False:
        # A new or resumed schedule starts now: earlier slots are not run.
        row.schedule_start = now


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "integration": (str,),
    "config": (dict,),
    "schedule": (str, type(None)),
    "timezone": (str,),
    "paused": (bool,),
}


def parse_deployments(data: Any) -> list[Deployment]:
    """Deployments from an apply file: ``{"deployments": [{name, integration, config, ...}]}``."""
    items = data.get("deployments") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise DeploymentError("the file must hold a 'deployments' list")
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not item.get("name") or not item.get("integration"):
            raise DeploymentError(f"deployments[{index}] needs at least 'name' and 'integration'")
        unknown = set(item) - set(FIELDS)
        if unknown:
            raise DeploymentError(
                f"deployments[{index}] ({item['name']}): unknown field(s) {sorted(unknown)}"
            )
        for field, types in _FIELD_TYPES.items():
            if field in item and not isinstance(item[field], types):
                expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise DeploymentError(
                    f"deployments[{index}] ({item['name']}): field '{field}' must be {expected}, "
                    f"got {type(item[field]).__name__}"
                )
        result.append(
            Deployment(
                name=str(item["name"]),
                integration=str(item["integration"]),
                config=dict(item.get("config") or {}),
                schedule=item.get("schedule"),
                timezone=item.get("timezone") or "UTC",
                paused=item.get("paused", False),
            )
        )
    return result
