"""The application's Alembic history keeps its revision in a version table of its own, so the
application database may be Dagster's storage database (dagster-postgres keeps its revision in
Alembic's default ``alembic_version``); databases versioned there by earlier versions of this
project carry their revision over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from integrations_pipeline.db.engine import upgrade_schema
from integrations_pipeline.findings.store import ReportedFinding, get_store
from integrations_tests.framework.db.test_migrations import OLD_VIOLATION

# The names are the contract with existing databases and with Dagster: spelled out, not imported.
VERSION_TABLE = "integrations_alembic_version"
ALEMBIC_DEFAULT = "alembic_version"
HEAD = "0003"
APP_TABLES = {
    "findings", "evaluations", "mutes", "alerts", "deployments", "integrations", "tickets", "webhook_outbox"
}  # fmt: skip
ALERT = {"run_id": "old-run", "findings": 1, "result": "posted", "created_at": "2026-01-02 10:00:00+00:00"}


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def versions(url: str, table: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.execute(text(f"SELECT version_num FROM {table}")).scalars())
    finally:
        engine.dispose()


def as_earlier_versions_left_it(url: str, revision: str) -> None:
    """The schema at ``revision`` with the revision in ``alembic_version``, as Alembic made it
    for this project before it had a version table of its own."""
    upgrade_schema(url, revision)
    engine = create_engine(url)
    with engine.begin() as connection:
        present = set(inspect(connection).get_table_names())
        if VERSION_TABLE in present:
            connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        if ALEMBIC_DEFAULT not in present:
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": revision})
    engine.dispose()


def test_a_new_database_keeps_its_revision_in_its_own_version_table(database_url: str):
    assert upgrade_schema(database_url) == ["0001", "0002", HEAD]
    assert tables(database_url) == APP_TABLES | {VERSION_TABLE}
    assert versions(database_url, VERSION_TABLE) == [HEAD]
    assert upgrade_schema(database_url) == []


def test_a_database_at_head_versioned_in_alembic_version_carries_its_revision_over(database_url: str):
    as_earlier_versions_left_it(database_url, HEAD)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO alerts (run_id, findings, result, created_at) "
                "VALUES (:run_id, :findings, :result, :created_at)"
            ),
            ALERT,
        )
    engine.dispose()

    assert upgrade_schema(database_url) == []
    assert tables(database_url) == APP_TABLES | {VERSION_TABLE}
    assert versions(database_url, VERSION_TABLE) == [HEAD]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT run_id, result FROM alerts")).all() == [("old-run", "posted")]
    engine.dispose()
    assert upgrade_schema(database_url) == []


def test_a_database_on_an_older_revision_versioned_in_alembic_version_carries_over_and_upgrades(
    database_url: str,
):
    as_earlier_versions_left_it(database_url, "0001")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        columns, values = ", ".join(OLD_VIOLATION), ", ".join(f":{k}" for k in OLD_VIOLATION)
        connection.execute(text(f"INSERT INTO violations ({columns}) VALUES ({values})"), OLD_VIOLATION)
    engine.dispose()

    assert upgrade_schema(database_url) == ["0002", HEAD]
    assert tables(database_url) == APP_TABLES | {VERSION_TABLE}
    assert versions(database_url, VERSION_TABLE) == [HEAD]
    [finding] = get_store(database_url).list_findings()
    assert (finding["uid"], finding["status"]) == (OLD_VIOLATION["uid"], "open")


# On PostgreSQL only: Dagster's storage needs PostgreSQL (or files of its own) to share a database.


@pytest.fixture
def dagster_on(tmp_path: Path) -> Iterator[Any]:
    """``open(url)``: a Dagster instance whose storage (dagster-postgres) is that database."""

    def instance(url: str) -> Any:
        server = make_url(url)
        storage = {
            "hostname": server.host,
            "port": server.port or 5432,
            "username": server.username,
            "password": server.password or "",
            "db_name": server.database,
            "scheme": "postgresql+psycopg2",  # as in dagster.yaml
        }
        return dg.instance_for_test(
            overrides={"storage": {"postgres": {"postgres_db": storage}}}, temp_dir=str(tmp_path)
        )

    yield instance


def _use_dagster(instance: dg.DagsterInstance) -> None:
    instance.add_dynamic_partitions("shared_partitions", ["acme"])
    assert instance.get_dynamic_partitions("shared_partitions") == ["acme"]
    assert instance.get_runs() == []


def _record_a_finding(url: str) -> None:
    get_store(url).record_evaluation(
        integration="hello_world", deployment="acme", task="check_item", title="t", run_id="run-1",
        status="violation", reported=[ReportedFinding(None, "high", "Found item_1")],
    )  # fmt: skip
    [finding] = get_store(url).list_findings()
    assert (finding["deployment"], finding["status"]) == ("acme", "open")


@pytest.mark.parametrize("first", ["dagster", "application"])
def test_the_application_and_dagster_share_one_postgresql_database(postgres_url: str, dagster_on, first):
    if first == "dagster":
        with dagster_on(postgres_url) as instance:
            _use_dagster(instance)
        dagster_tables = tables(postgres_url)
        dagster_revision = versions(postgres_url, ALEMBIC_DEFAULT)
        assert upgrade_schema(postgres_url) == ["0001", "0002", HEAD]
        # No table of the application's is one of Dagster's, and Dagster's revision is left alone.
        assert tables(postgres_url) - dagster_tables == APP_TABLES | {VERSION_TABLE}
        assert versions(postgres_url, ALEMBIC_DEFAULT) == dagster_revision
        with dagster_on(postgres_url) as instance:
            assert instance.get_dynamic_partitions("shared_partitions") == ["acme"]
    else:
        assert upgrade_schema(postgres_url) == ["0001", "0002", HEAD]
        with dagster_on(postgres_url) as instance:
            _use_dagster(instance)
        assert APP_TABLES | {VERSION_TABLE} <= tables(postgres_url)
    assert versions(postgres_url, VERSION_TABLE) == [HEAD]
    [dagster_revision] = versions(postgres_url, ALEMBIC_DEFAULT)
    assert dagster_revision not in ("0001", HEAD)
    _record_a_finding(postgres_url)
    assert upgrade_schema(postgres_url) == []


def test_dagster_may_share_a_database_once_its_revision_is_carried_over(postgres_url: str, dagster_on):
    """An install that pointed Dagster at the application's database met the clash: Dagster
    could not stamp its revision over ours. Once ours moved, Dagster starts there."""
    as_earlier_versions_left_it(postgres_url, HEAD)
    with (
        pytest.raises(Exception, match=f"Can't locate revision identified by '{HEAD}'"),
        dagster_on(postgres_url) as instance,
    ):
        instance.get_runs()
    assert upgrade_schema(postgres_url) == []
    with dagster_on(postgres_url) as instance:
        _use_dagster(instance)
    assert versions(postgres_url, VERSION_TABLE) == [HEAD]
    [dagster_revision] = versions(postgres_url, ALEMBIC_DEFAULT)
    assert dagster_revision not in ("0001", HEAD)
    _record_a_finding(postgres_url)
    assert upgrade_schema(postgres_url) == []
    assert versions(postgres_url, ALEMBIC_DEFAULT) == [dagster_revision]
