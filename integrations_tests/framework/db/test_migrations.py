"""Versioned migrations: a database on an older schema upgrades cleanly and keeps its data."""

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text

from integrations_pipeline.db.engine import upgrade_schema
from integrations_pipeline.findings.store import finding_uid, get_store
from integrations_tests.conftest import PROJECT

OLD_VIOLATION = {
    "id": "00000000-0000-0000-0000-000000000001",
    "uid": finding_uid("hello_world", None, "check_item"),
    "integration": "hello_world",
    "deployment": None,
    "task": "check_item",
    "title": "Check for specific item",
    "severity": "high",
    "message": "Found item_1",
    "status": "open",
    "first_seen": "2026-01-01 10:00:00+00:00",
    "last_seen": "2026-01-02 10:00:00+00:00",
    "resolved_at": None,
    "run_id": "old-run",
    "data": '{"n": 1}',
}


@pytest.mark.parametrize("versioned", [True, False], ids=["baseline", "before-migrations"])
def test_an_older_database_upgrades_and_keeps_its_violations(database_url, versioned):
    assert upgrade_schema(database_url, "0001") == ["0001"]
    engine = create_engine(database_url)
    with engine.begin() as connection:
        columns = ", ".join(OLD_VIOLATION)
        values = ", ".join(f":{k}" for k in OLD_VIOLATION)
        connection.execute(text(f"INSERT INTO violations ({columns}) VALUES ({values})"), OLD_VIOLATION)
        if not versioned:  # as made by the code before migrations existed
            connection.execute(text("DROP TABLE integrations_alembic_version"))
    # Before migrations existed there is no version: the idempotent baseline runs, adding nothing.
    assert upgrade_schema(database_url) == (["0002", "0003"] if versioned else ["0001", "0002", "0003"])
    assert upgrade_schema(database_url) == []
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"findings", "evaluations", "mutes", "alerts"} <= tables and "violations" not in tables
    [finding] = get_store(database_url).list_findings()
    assert finding["uid"] == OLD_VIOLATION["uid"] and finding["resource"] is None
    assert (finding["occurrences"], finding["reopened"], finding["status"]) == (1, 0, "open")
    # The next evaluation of that insight updates the same finding.
    from integrations_pipeline.findings.store import ReportedFinding

    get_store(database_url).record_evaluation(
        integration="hello_world", deployment=None, task="check_item", title="t", run_id="new-run",
        status="violation", reported=[ReportedFinding(None, "high", "again")],
    )  # fmt: skip
    [finding] = get_store(database_url).list_findings()
    assert finding["occurrences"] == 2 and finding["first_seen"].startswith("2026-01-01")


def test_db_upgrade_command(database_url):
    completed = subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", "db", "upgrade"],
        cwd=PROJECT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert completed.stdout.strip() in ("applied 0001, 0002, 0003", "database up to date")
