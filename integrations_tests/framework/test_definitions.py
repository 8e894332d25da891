"""The code location as Dagster's own tools load it."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from integrations_pipeline.findings.store import get_store
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
    [record] = get_store().list_findings()
    assert record["task"] == "check_item" and record["status"] == "open"
    leaked = [p for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaked == []
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        [run] = instance.get_runs()
        assert run.run_config["resources"]["hello_world"]["config"]["api_key"] == {
            "env": "HELLO_WORLD_API_KEY"
        }


LEAKY_COLLECTOR = """
import logging

from integrations_pipeline.sdk import TaskContext, task


@task(name="echo_secret")
def echo_secret(self, ctx: TaskContext):
    key = ctx.config["api_key"]
    print(f"printing {key}")
    logging.getLogger("vendor.sdk").warning("calling https://api.example/items?key=%s", key)
    ctx.add_log(f"log {key}")
    ctx.add_error(f"error {key}")
    return {"data": {"key": key, "items": [key]}, "message": f"used {key}"}
"""
LEAKY_INSIGHT = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="judge_secret", type="insight", severity="critical")
def judge_secret(self, ctx: TaskContext):
    data = ctx.get_data("echo_secret")
    return {"violation": True, "data": data, "message": f"flagged {data['key']}"}
"""


def test_a_task_that_leaks_its_secret_everywhere_is_redacted_everywhere(tmp_path, make_project):
    """print, logging, add_log, add_error, data, message, violation: nothing stores the secret."""
    secret = "leaky-secret-5d1e9b"
    project = make_project(
        {
            "leaky": {
                "schema": {"type": "object", "properties": {"api_key": {"type": "string"}}},
                "files": {"collectors/echo.py": LEAKY_COLLECTOR, "insights/judge.py": LEAKY_INSIGHT},
            }
        }
    )
    home = tmp_path / "dagster-home"
    home.mkdir()
    app_home = tmp_path / "app-home"
    config = tmp_path / "run.yaml"
    config.write_text("resources:\n  leaky:\n    config:\n      api_key: {env: LEAKY_KEY}\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INTEGRATIONS_HOME": str(app_home),
        "INTEGRATIONS_PROJECT_DIR": str(project),
        "LEAKY_KEY": secret,
    }
    completed = subprocess.run(
        [DAGSTER, "job", "execute", "-m", "integrations_pipeline", "-j", "leaky", "-c", str(config)],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "calling https://api.example/items?key=***" in output  # the library log, redacted
    assert secret not in output
    stored = [p for p in home.rglob("*") if p.is_file()] + [p for p in app_home.rglob("*") if p.is_file()]
    assert any(p.parent.name == "leaky" for p in stored)  # the IO manager's stored output was searched
    leaked = [str(p) for p in stored if secret.encode() in p.read_bytes()]
    assert leaked == []
    env_records = subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", "violations", "--json"],
        cwd=PROJECT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert '"message": "flagged ***"' in env_records and secret not in env_records
