"""The production stack as plain processes, as docker-compose starts them.

`integrations serve code-server|webserver|daemon` on a throwaway PostgreSQL: a deployment
added with the command line runs on its cron under the daemon; its violation carries its
name; a run triggered by name through the webserver's GraphQL API runs; a failing
deployment opens one ticket (posted to a webhook); a restarted daemon runs no slot twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster_graphql import DagsterGraphQLClient
from sqlalchemy.engine import make_url

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.operations.records import list_integration_records
from integrations_pipeline.operations.tickets import list_tickets
from integrations_tests.conftest import POSTGRES_ADMIN_URL, PROJECT

SECRET = "e2e-hello-secret-31f0"
CLI = [sys.executable, "-m", "integrations_pipeline.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, stack: Stack) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        stack.assert_alive()
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{stack.logs()}")


class Stack:
    """Processes started in their own process groups, stopped by pid."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs_dir = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [*CLI, "serve", *args], cwd=PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def assert_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}\n{self.logs()}"

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} (last lines)\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:])
            for path in sorted(self.logs_dir.glob("*.log"))
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [*CLI, *args], cwd=PROJECT, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed


@pytest.fixture
def stack(
    tmp_path: Path, postgres_databases: Any, webhook: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    dagster_db, _ = postgres_databases("integrations_e2e_dagster")
    _, app_url = postgres_databases("integrations_e2e_app")
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    server = make_url(POSTGRES_ADMIN_URL)
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_HOST": server.host or "127.0.0.1",
        "DAGSTER_POSTGRES_PORT": str(server.port or 5432),
        "DAGSTER_POSTGRES_USER": server.username or "postgres",
        "DAGSTER_POSTGRES_PASSWORD": server.password or "",
        "DAGSTER_POSTGRES_DB": dagster_db,
        "INTEGRATIONS_DATABASE_URL": app_url,
        "INTEGRATIONS_CODE_SERVER_HOST": "127.0.0.1",
        "INTEGRATIONS_CODE_SERVER_PORT": str(free_port()),
        "INTEGRATIONS_SENSOR_INTERVAL_SECONDS": "2",
        "INTEGRATIONS_WEBHOOK_URL": webhook.url,
        "HELLO_WORLD_API_KEY": SECRET,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Stack(dict(os.environ), logs)
    try:
        yield running
    finally:
        running.stop_all()


def runs_of(instance: dg.DagsterInstance, deployment: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"deployment": deployment})))


def test_production_stack_end_to_end(stack: Stack, tmp_path: Path, webhook: Any) -> None:
    web_port = free_port()
    code_port = int(stack.env["INTEGRATIONS_CODE_SERVER_PORT"])
    stack.start("code-server", "code-server")
    wait_for("the code server", lambda: _port_open(code_port), 180, stack)
    stack.start("webserver", "webserver", "--port", str(web_port))
    stack.start("daemon", "daemon")
    wait_for("the webserver", lambda: _http_ok(f"http://127.0.0.1:{web_port}/server_info"), 180, stack)
    assert "hello_world" in {r["name"] for r in list_integration_records()}  # init-integrations ran

    config = tmp_path / "hello.yaml"
    config.write_text(json.dumps({"api_key": {"env": "HELLO_WORLD_API_KEY"}}))
    stack.cli("deployments", "add", "hello-acme", "--integration", "hello_world", "--config", str(config),
              "--schedule", "* * * * *")  # fmt: skip

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(stack.env["DAGSTER_HOME"])) as instance:
        scheduled = wait_for(
            "the scheduled run of hello-acme",
            lambda: [r for r in runs_of(instance, "hello-acme") if r.status == dg.DagsterRunStatus.SUCCESS],
            240, stack,
        )  # fmt: skip
        run = scheduled[0]
        assert (
            run.tags["integrations/trigger"] == "schedule" and run.tags["dagster/partition"] == "hello-acme"
        )
        assert run.run_config["resources"]["hello_world"]["config"]["api_key"] == {
            "env": "HELLO_WORLD_API_KEY"
        }
        partitions = instance.get_dynamic_partitions("hello_world_deployments")
        assert {"adhoc", "hello-acme"} <= set(partitions)
        [violation] = get_store().list_findings(deployment="hello-acme")
        assert (violation["task"], violation["status"], violation["run_id"]) == (
            "check_item",
            "open",
            run.run_id,
        )

        # Trigger by name through the webserver's GraphQL API (seed 004).
        client = DagsterGraphQLClient("127.0.0.1", port_number=web_port)
        triggered = client.submit_job_execution(
            "hello_world",
            run_config={
                "resources": {"hello_world": {"config": {"api_key": {"env": "HELLO_WORLD_API_KEY"}}}}
            },
            tags={"deployment": "hello-acme", "dagster/partition": "hello-acme"},
        )
        wait_for(
            "the run triggered through GraphQL",
            lambda: client.get_run_status(triggered) == dg.DagsterRunStatus.SUCCESS, 180, stack,
        )  # fmt: skip

        # A deployment whose secret variable is not set fails: one ticket, posted once.
        broken = tmp_path / "broken.yaml"
        broken.write_text(json.dumps({"api_key": {"env": "E2E_VARIABLE_NOT_SET"}}))
        stack.cli(
            "deployments", "add", "hello-broken", "--integration", "hello_world", "--config", str(broken)
        )
        stack.cli("deployments", "run-now", "hello-broken")
        # An unset variable fails the same way again: the run is not retried (run_retries
        # leave config errors alone), and its failure is final at once.
        [failed] = wait_for(
            "the failed run of hello-broken",
            lambda: [
                r for r in runs_of(instance, "hello-broken")
                if r.status == dg.DagsterRunStatus.FAILURE and r.tags.get("dagster/will_retry") == "false"
            ],
            180, stack,
        )  # fmt: skip
        assert "dagster/retry_number" not in failed.tags and failed.tags.get("dagster/max_retries") == "0"
        [ticket] = wait_for("the ticket", lambda: list_tickets(), 60, stack)
        assert ticket["run_id"] == failed.run_id and ticket["deployment"] == "hello-broken"
        assert "E2E_VARIABLE_NOT_SET" in ticket["error_summary"]

        def posted(kind: str) -> list[dict]:
            return [p for p in webhook.received if p["type"] == kind]

        wait_for("the ticket's webhook", lambda: posted("integration_run_failed"), 30, stack)
        assert [p["ticket"]["run_id"] for p in posted("integration_run_failed")] == [failed.run_id]
        # hello-acme's first run opened a new high finding: one alert for that run.
        alerts = wait_for("the alert", lambda: posted("new_findings"), 30, stack)
        assert alerts[0]["run_id"] == run.run_id and alerts[0]["findings"][0]["task"] == "check_item"

        # Restart the daemon: the slot it launched is not launched again.
        stack.stop("daemon")
        stack.start("daemon", "daemon")
        stack.cli("deployments", "run-now", "hello-acme")  # proves the new daemon ticks
        wait_for(
            "the run-now run after the restart",
            lambda: [
                r for r in runs_of(instance, "hello-acme")
                if r.tags.get("integrations/trigger") == "manual" and r.status == dg.DagsterRunStatus.SUCCESS
            ],
            180, stack,
        )  # fmt: skip
        time.sleep(6)  # a few more ticks of the restarted daemon
        slots = [
            r.tags["dagster/run_key"]
            for r in runs_of(instance, "hello-acme")
            if r.tags.get("integrations/trigger") == "schedule"
        ]
        assert slots and len(slots) == len(set(slots)), slots
        assert len(list_tickets()) == 1
        stored = "\n".join(json.dumps(r.run_config) for r in instance.get_runs())
        assert SECRET not in stored
    assert SECRET not in json.dumps(get_store().list_findings())


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
