"""``integrations init-integrations``: integrations.json mirrored into the application database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from integrations_pipeline.catalog.discovery import Catalog
from integrations_pipeline.db.engine import Base, engine, utcnow, write_engine

SYNCED = ("title", "description", "enabled", "version", "config_schema", "tasks", "load_error")


class IntegrationRow(Base):
    __tablename__ = "integrations"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    config_schema: Mapped[Any] = mapped_column("schema", JSON)
    tasks: Mapped[Any] = mapped_column(JSON)
    load_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _wanted(catalog: Catalog) -> dict[str, dict[str, Any]]:
    rows = {}
    for entry in catalog.entries:
        integration = catalog.integrations.get(entry.name)
        tasks = [
            {
                "name": t.name,
                "type": t.spec.type,
                "title": t.spec.title,
                "severity": t.spec.severity,
                "order": t.spec.order,
                "enabled": t.spec.enabled,
            }
            for t in (integration.all_tasks.values() if integration else ())
        ]
        problems = "; ".join(p.message for p in catalog.problems_of(entry.name))
        rows[entry.name] = {
            "title": entry.title,
            "description": entry.description,
            "enabled": entry.enabled,
            "version": entry.version,
            "config_schema": entry.config_schema,
            "tasks": tasks,
            "load_error": problems or None,
        }
    return rows


def init_integrations(catalog: Catalog, url: str | None = None) -> list[str]:
    """Create or update one row per integrations.json entry; returns one line per change.

    Entries that left integrations.json are kept (their deployments and violations refer
    to them) and marked disabled.
    """
    wanted = _wanted(catalog)
    changes: list[str] = []
    now = utcnow()
    with Session(write_engine(url)) as session, session.begin():
        existing = {row.name: row for row in session.scalars(select(IntegrationRow))}
        for name, values in wanted.items():
            row = existing.get(name)
            if row is None:
                session.add(IntegrationRow(name=name, updated_at=now, **values))
                changes.append(f"create {name}")
                continue
            differing = [k for k in SYNCED if getattr(row, k) != values[k]]
            if differing:
                for key in differing:
                    setattr(row, key, values[key])
                row.updated_at = now
                changes.append(f"update {name}: {', '.join(differing)}")
        for name, row in existing.items():
            if name not in wanted and row.enabled:
                row.enabled = False
                row.updated_at = now
                changes.append(f"disable {name} (no longer in integrations.json)")
    return changes


def list_integration_records(url: str | None = None) -> list[dict[str, Any]]:
    with Session(engine(url)) as session:
        return [
            {
                "name": row.name,
                **{k: getattr(row, k) for k in SYNCED},
                "updated_at": row.updated_at.isoformat(),
            }
            for row in session.scalars(select(IntegrationRow).order_by(IntegrationRow.name))
        ]
