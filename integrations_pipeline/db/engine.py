"""The application database: engine, base class and location (SQLite by default).

Each table is declared by the stage that owns it: findings, evaluations, mutes and alerts
(findings/), deployments, tickets and integrations (operations/).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase

from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.common.paths import data_dir

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

DATABASE_URL_ENV = "INTEGRATIONS_DATABASE_URL"

_log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive; they were written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def database_url() -> str:
    """``INTEGRATIONS_DATABASE_URL``, or an SQLite file in :func:`data_dir`.

    Raises:
        IntegrationError: the variable is unset, the SQLite file does not exist yet and
            ``DAGSTER_HOME`` is a production instance (PostgreSQL storage): a new local
            database there would quietly hold what belongs in the shared one.
    """
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured:
        return configured
    local = data_dir() / "integrations.db"
    if not local.exists():
        _refuse_on_production_home(local)
    return f"sqlite:///{local}"


def _refuse_on_production_home(local: Path) -> None:
    home = os.environ.get("DAGSTER_HOME")
    instance = Path(home) / "dagster.yaml" if home else None
    if instance is None or not instance.is_file():
        return
    import yaml

    try:
        settings = yaml.safe_load(instance.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # Dagster reports its own instance's problems
    if not isinstance(settings, dict):
        return
    sections = [settings.get(key) for key in ("storage", "run_storage", "event_log_storage")]
    if any(isinstance(s, dict) and ("postgres" in s or "postgres" in str(s.get("module"))) for s in sections):
        raise IntegrationError(
            f"{DATABASE_URL_ENV} is not set, and DAGSTER_HOME ({home}) is an instance on PostgreSQL: "
            f"set {DATABASE_URL_ENV} to the application database instead of starting a new local "
            f"SQLite database at {local}"
        )


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


def write_engine(url: str | None = None) -> Engine:
    """``engine(url)`` for a transaction that reads and then writes. On SQLite it begins with
    the write lock (BEGIN IMMEDIATE), waiting its turn: a transaction that read first cannot
    start writing once another one wrote meanwhile, and fails with "database is locked"."""
    return engine(url).execution_options(sqlite_immediate=True)


def _create_engine(url: str) -> Engine:
    created = _bare_engine(url)
    _create_tables(created)
    return created


def _bare_engine(url: str) -> Engine:
    """An engine with this project's SQLite settings, schema untouched."""
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
        event.listen(created, "begin", _sqlite_begin)
    return created


def _create_tables(created: Engine) -> None:
    # Steps in parallel processes may migrate a new SQLite database at the same time; the
    # loser of that race finds it migrated and goes on (PostgreSQL takes a lock instead).
    try:
        upgrade_schema(created)
    except exc.OperationalError:
        upgrade_schema(created)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic's default version table, alembic_version, is where Dagster's storage (dagster-postgres)
# keeps its own revision: with a table of its own, this database may be Dagster's database.
VERSION_TABLE = "integrations_alembic_version"
# Where earlier versions of this project kept the revision; carried over (_carry_over_version).
ALEMBIC_DEFAULT_VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key serializing schema migrations.
_MIGRATION_LOCK = 7_243_190_001
# Alembic keeps the running migration in module globals (alembic.context, alembic.op): two
# threads migrating at once, even different databases, would run on each other's.
_MIGRATING = threading.Lock()


def upgrade_schema(target: Engine | str | None = None, revision: str = "head") -> list[str]:
    """Apply the versioned migrations (Alembic) up to ``revision``; returns those applied.

    The revision lives in :data:`VERSION_TABLE`. One that earlier versions kept in
    ``alembic_version`` is moved there first; a database made before migrations existed
    (tables, no version) is taken as the baseline revision first. One migration at a time
    per process.
    """
    with _MIGRATING:
        return _upgrade(target, revision)


def _upgrade(target: Engine | str | None, revision: str) -> list[str]:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    owned = not isinstance(target, Engine)
    bound = target if isinstance(target, Engine) else _bare_engine(target or database_url())
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    try:
        # SQLite: one write transaction (BEGIN IMMEDIATE) holds the whole migration, so
        # processes starting together migrate one after the other.
        with bound.execution_options(sqlite_immediate=True).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            _carry_over_version(connection, script)
            before = _version_context(connection).get_current_revision()
            command.upgrade(config, revision)
            after = _version_context(connection).get_current_revision()
        applied = (
            [r.revision for r in script.iterate_revisions(after, before) if r.revision != before]
            if after != before
            else []
        )
        return list(reversed(applied))
    finally:
        if owned:
            bound.dispose()


def _version_context(connection: Connection) -> MigrationContext:
    """Alembic on ``connection``, reading and writing the revision in :data:`VERSION_TABLE`."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})


def _carry_over_version(connection: Connection, script: ScriptDirectory) -> None:
    """Move this project's revision from ``alembic_version``, where earlier versions kept it,
    to :data:`VERSION_TABLE`, unless that exists already. An ``alembic_version`` holding any
    other revision is another history's (Dagster's) and is left as it is."""
    present = set(inspect(connection).get_table_names())
    if VERSION_TABLE in present or ALEMBIC_DEFAULT_VERSION_TABLE not in present:
        return
    found = set(
        connection.execute(text(f"SELECT version_num FROM {ALEMBIC_DEFAULT_VERSION_TABLE}")).scalars()
    )
    ours = {r.revision for r in script.walk_revisions()}
    if len(found) != 1 or not found <= ours:
        return
    [revision] = found
    _version_context(connection).stamp(script, revision)
    # Dropped, not renamed: on PostgreSQL its primary key, alembic_version_pkc, keeps its name
    # through a rename, and would stop Dagster creating its own alembic_version here.
    connection.execute(text(f"DROP TABLE {ALEMBIC_DEFAULT_VERSION_TABLE}"))
    _log.info("moved revision %s from %s to %s", revision, ALEMBIC_DEFAULT_VERSION_TABLE, VERSION_TABLE)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the driver, begins transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    # WAL lets readers (the CLI, the UI) work while a run writes, and makes commits cheap.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A read-then-write transaction that must not interleave with another writer's (an
    # insight evaluation, a migration) asks for the write lock as it begins; reads don't.
    immediate = connection.get_execution_options().get("sqlite_immediate")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked processes)."""
    with _ENGINES_LOCK:
        for created in _ENGINES.values():
            created.dispose()
        _ENGINES.clear()
