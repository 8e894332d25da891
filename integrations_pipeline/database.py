"""The application database: engine, base class and location (SQLite by default).

Tables: violations (store.py), deployments (deployments.py), integrations
(integration_records.py) and tickets (tickets.py).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL_ENV = "INTEGRATIONS_DATABASE_URL"
HOME_ENV = "INTEGRATIONS_HOME"


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive; they were written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def data_dir() -> Path:
    """Where the embedded database lives: ``INTEGRATIONS_HOME`` or ``<project>/.integrations``."""
    from integrations_pipeline.discovery import project_dir

    configured = os.environ.get(HOME_ENV)
    return Path(configured) if configured else project_dir() / ".integrations"


def database_url() -> str:
    """``INTEGRATIONS_DATABASE_URL``, or an SQLite file in :func:`data_dir`."""
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured:
        return configured
    return f"sqlite:///{data_dir() / 'integrations.db'}"


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine(url: str | None = None) -> Engine:
    """The (cached) engine for ``url``, with every table created."""
    url = url or database_url()
    with _ENGINES_LOCK:
        found = _ENGINES.get(url)
        if found is None:
            found = _create_engine(url)
            _ENGINES[url] = found
        return found


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    created = create_engine(url, **kwargs)
    if sqlite:
        event.listen(created, "connect", _sqlite_pragmas)
    _create_tables(created)
    return created


def _create_tables(created: Engine) -> None:
    # Import every model so its table is part of the metadata.
    from integrations_pipeline import deployments, integration_records, store, tickets  # noqa: F401

    # Steps in parallel processes may create the tables of a new database at the same
    # time; the loser of that race finds them created and goes on.
    try:
        Base.metadata.create_all(created)
    except exc.DatabaseError:
        Base.metadata.create_all(created)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the CLI, the UI) work while a run writes, and makes commits cheap.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked processes)."""
    with _ENGINES_LOCK:
        for created in _ENGINES.values():
            created.dispose()
        _ENGINES.clear()
