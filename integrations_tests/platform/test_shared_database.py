"""The production stack with ONE PostgreSQL database: Dagster's storage (dagster-postgres) and
the application database (findings, deployments, tickets) share it, as small installs do.

Dagster keeps its Alembic revision in ``alembic_version``; the application keeps its own in
``integrations_alembic_version``, so neither stops the other. A deployment added with the
command line runs under the daemon and records its finding in the shared database.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from integrations_pipeline.findings.store import get_store
from integrations_tests.conftest import POSTGRES_ADMIN_URL
from integrations_tests.framework.db.test_version_table import (
    APP_TABLES,
    HEAD,
    VERSION_TABLE,
    tables,
    versions,
)
from integrations_tests.platform.test_end_to_end import Stack, _port_open, runs_of, stack, wait_for

__all__ = ["stack"]  # the fixture this module's fixture builds on


@pytest.fixture
def shared(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[Stack, str]:
    """The stack, its application database being Dagster's storage database."""
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + stack.env["DAGSTER_POSTGRES_DB"]
    stack.env["INTEGRATIONS_DATABASE_URL"] = url
    monkeypatch.setenv("INTEGRATIONS_DATABASE_URL", url)
    return stack, url


def test_dagster_and_the_application_share_one_database(shared: tuple[Stack, str], tmp_path: Path) -> None:
    stack, url = shared
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(stack.env["DAGSTER_HOME"])) as instance:
        # Dagster's storage is there first, as on an install the application is added to.
        instance.get_runs()
        dagster_tables = tables(url)
        dagster_revision = versions(url, "alembic_version")

        code_port = int(stack.env["INTEGRATIONS_CODE_SERVER_PORT"])
        stack.start("code-server", "code-server")  # migrates the application database first
        wait_for("the code server", lambda: _port_open(code_port), 180, stack)
        stack.start("daemon", "daemon")
        config = tmp_path / "hello.yaml"
        config.write_text(json.dumps({"api_key": {"env": "HELLO_WORLD_API_KEY"}}))
        stack.cli(
            "deployments", "add", "hello-shared", "--integration", "hello_world", "--config", str(config)
        )
        stack.cli("deployments", "run-now", "hello-shared")
        [run] = wait_for(
            "the daemon's run of hello-shared",
            lambda: [r for r in runs_of(instance, "hello-shared") if r.status == dg.DagsterRunStatus.SUCCESS],
            240, stack,
        )  # fmt: skip
        assert run.tags["integrations/trigger"] == "manual"

    # hello_world flags item_1: the finding is in the application's table of the shared database.
    [finding] = get_store().list_findings(deployment="hello-shared")
    assert (finding["task"], finding["status"], finding["run_id"]) == ("check_item", "open", run.run_id)
    # Each history keeps its revision in its own table; no table of one is the other's.
    assert versions(url, "alembic_version") == dagster_revision
    assert versions(url, VERSION_TABLE) == [HEAD]
    assert tables(url) - dagster_tables == APP_TABLES | {VERSION_TABLE}
