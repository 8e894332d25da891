"""The code location as Dagster's own tools load it."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from integrations_pipeline.store import get_store
from integrations_tests.conftest import PROJECT

DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_defs_can_load():
    from integrations_pipeline.definitions import defs

    repo = defs.get_repository_def()
    assert "hello_world" in {job.name for job in repo.get_all_jobs()}
    job = defs.resolve_job_def("hello_world")
    assert job.executor_def.name == "integrations_executor"
    keys = {check.asset_key for check in defs.resolve_asset_graph().asset_check_keys}
    assert dg.AssetKey(["hello_world", "list_items"]) in keys


def test_dagster_job_execute_runs_hello_world(tmp_path):
    secret = "cli-secret-value-77"
    home = tmp_path / "dagster-home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "HELLO_WORLD_API_KEY": secret,
    }
    completed = subprocess.run(
        [DAGSTER, "job", "execute", "-m", "integrations_pipeline", "-j", "hello_world",
         "-c", "integrations/hello_world/config.example.yaml"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "RUN_SUCCESS" in output and secret not in output
    [record] = get_store().list_violations()
    assert record["task"] == "check_item" and record["status"] == "open"
    leaked = [p for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaked == []
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        [run] = instance.get_runs()
        assert run.run_config["resources"]["hello_world"]["config"]["api_key"] == {
            "env": "HELLO_WORLD_API_KEY"
        }
