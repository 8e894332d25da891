"""What each entry point imports, read off ``python -X importtime`` of a fresh process: a
command or a code location loads only what it needs (heavy libraries when first used)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from integrations_tests.conftest import PROJECT, case

HEAVY = ("boto3", "botocore", "sqlalchemy", "jsonschema")


def imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Every module a fresh ``python -X importtime *args`` imports."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    modules = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert "integrations_pipeline" in modules, "the probe saw no import at all"
    return modules


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_heavy_library():
    assert not top_level(imported("-m", "integrations_pipeline.cli", "--help")) & set(HEAVY)


def test_list_reads_the_integrations_without_importing_them():
    modules = imported("-m", "integrations_pipeline.cli", "list")
    assert not top_level(modules) & {"boto3", "botocore", "psycopg2"}
    assert not any(m.startswith("integrations.") for m in modules)


@pytest.mark.parametrize(
    "command", [("tickets",), ("violations",), ("mutes", "list"), ("deployments", "list")]
)
def test_commands_that_read_the_database_import_no_integration(command):
    modules = imported("-m", "integrations_pipeline.cli", *command)
    assert "sqlalchemy" in top_level(modules)  # they did read the database
    assert not any(m.startswith(("integrations.", "boto3", "botocore")) for m in modules)


def test_the_sdk_leaves_the_http_toolkit_until_it_is_used():
    modules = imported("-c", "from integrations_pipeline.sdk import BaseRunner, TaskContext, task")
    assert not top_level(modules) & {"httpx", "aiohttp", "sqlalchemy", "jsonschema"}
    modules = imported("-c", "from integrations_pipeline.sdk import HttpClient")
    assert "httpx" in top_level(modules)


def test_the_code_location_loads_without_the_database_or_jsonschema(tmp_path):
    env = {"INTEGRATIONS_PROJECT_DIR": str(case("guide")), "INTEGRATIONS_HOME": str(tmp_path)}
    load = "from integrations_pipeline.definitions import defs; defs.get_repository_def().get_all_jobs()"
    first = top_level(imported("-c", load, env=env))
    assert "jsonschema" in first  # the schemas were checked...
    modules = imported("-c", load, env=env)
    assert not top_level(modules) & {"sqlalchemy", "jsonschema", "httpx"}  # ...and remembered as valid
    assert (
        "dagster._cli" not in modules
    )  # Dagster's command line: only `dagster job scaffold_config` needs it
