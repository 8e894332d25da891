"""The Dagster UI as an operator meets it: `make dev`, the launchpad in headless Chromium.

hello_world's launchpad opens asking only for its own api_key; filled in as the README says,
it launches a run that succeeds. Through the GraphQL API the launchpad uses, a run in a
deployment's partition with another customer's config is refused and leaves that
deployment's findings alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations_pipeline.findings.store import get_store
from integrations_tests.conftest import PROJECT
from integrations_tests.platform.test_end_to_end import CLI, free_port

# The config the README tells a user to type into hello_world's launchpad.
README_CONFIG = "resources:\n  hello_world:\n    config:\n      api_key:\n        env: HELLO_WORLD_API_KEY\n"
RUN_STATUS = """query ($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"""
LAUNCH = """
mutation ($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return found


class Dev:
    """`make dev` on a free port with its own DAGSTER_HOME, as a user starts it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "make-dev.log"
        env = {k: v for k, v in os.environ.items() if k != "HELLO_WORLD_API_KEY"}  # make dev sets it
        env["INTEGRATIONS_SENSOR_INTERVAL_SECONDS"] = "2"
        command = [
            "make",
            "--no-print-directory",
            "dev",
            f"DEV_PORT={self.port}",
            f"DEV_HOME={tmp_path / 'home'}",
        ]
        self.process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_until_up(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make dev exited\n{self.tail()}"
            try:
                if httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise AssertionError(f"make dev did not come up in {timeout:.0f} s\n{self.tail()}")

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30)
        answer.raise_for_status()
        return answer.json()["data"]

    def wait_for_run(self, run_id: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.graphql(RUN_STATUS, id=run_id)["runOrError"]
            if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED"):
                return run
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not finish in {timeout:.0f} s\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-60:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dev]:
    monkeypatch.setenv("ACME_KEY", "acme-key-0001")
    monkeypatch.setenv("GLOBEX_KEY", "globex-key-0002")
    config = tmp_path / "acme.yaml"
    config.write_text("api_key: {env: ACME_KEY}\n")
    added = subprocess.run(
        [*CLI, "deployments", "add", "acme-hello", "--integration", "hello_world", "--config", str(config)],
        cwd=PROJECT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    server = Dev(tmp_path)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


def test_the_launchpad_opens_valid_and_launches_as_the_readme_says(dev: Dev, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{dev.url}/locations/integrations_pipeline/jobs/hello_world/playground")
            errors = page.locator("text=Missing required config entry")
            errors.first.wait_for(timeout=60_000)
            # One error, hello_world's own api_key: no other integration's StageOne is asked for.
            page.wait_for_timeout(1000)
            assert errors.count() == 1
            assert "root:resources:hello_world:config" in errors.first.inner_text()
            assert "api_key" in errors.first.inner_text()
            if page.get_by_role("button", name="Skip").count():  # Dagster's newsletter prompt
                page.get_by_role("button", name="Skip").click()
            page.locator(".CodeMirror").first.click()
            page.keyboard.press("Control+A")
            page.keyboard.insert_text(README_CONFIG)
            page.get_by_text("No errors").wait_for(timeout=30_000)
            page.get_by_role("button", name="Launch Run").click()
            # Dagster asks to confirm a run without a partition (ad hoc): the README says so.
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_url("**/runs/*", timeout=60_000)
            run_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            page.screenshot(path=str(tmp_path / "launched.png"))
        finally:
            browser.close()
    run = dev.wait_for_run(run_id)
    assert run["status"] == "SUCCESS", dev.tail()
    assert [f["task"] for f in get_store().list_findings(run_id=run_id)] == ["check_item"]


def test_a_graphql_launch_in_another_deployments_partition_is_refused(dev: Dev) -> None:
    params = {
        "selector": {
            "repositoryLocationName": "integrations_pipeline",
            "repositoryName": "__repository__",
            "pipelineName": "hello_world",
        },
        "runConfigData": {"resources": {"hello_world": {"config": {"api_key": {"env": "GLOBEX_KEY"}}}}},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "acme-hello"}]},
    }
    launched = dev.graphql(LAUNCH, params=params)["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run = dev.wait_for_run(launched["run"]["runId"])
    assert run["status"] == "FAILURE"
    assert get_store().list_findings(deployment="acme-hello") == []
    assert get_store().evaluated_tasks(launched["run"]["runId"]) == set()
    # A name that is no stored deployment (removed, or made up) gets no findings either.
    params["executionMetadata"] = {"tags": [{"key": "dagster/partition", "value": "nosuch"}]}
    made_up = dev.graphql(LAUNCH, params=params)["launchPipelineExecution"]
    assert made_up["__typename"] == "LaunchRunSuccess", made_up
    assert dev.wait_for_run(made_up["run"]["runId"])["status"] == "FAILURE"
    assert get_store().list_findings(deployment="nosuch") == []
