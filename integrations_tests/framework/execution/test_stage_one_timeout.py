"""StageOne runs under ``stage_one_timeout`` (60 s by default), in a run and in
``integrations check``."""

import os
import subprocess
import sys
import time

from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import PROJECT
from integrations_tests.framework.execution.stage_one import entry_with_start

SLOW_ENTRY = entry_with_start(
    "slow_login",
    """
    def start(self):
        time.sleep(self.config.get("login_seconds", 0))
        return {"session": "ok"}
    """,
    imports="import time",
)

COLLECTOR = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="list_items", type="collector")
def list_items(self, ctx: TaskContext):
    return {"data": [ctx.base("session")]}
"""

EXPECTED = "integration 'slow_login': StageOne timed out after 1 s (stage_one_timeout); it was abandoned"


def slow_project(make_project):
    files = {"entry.py": SLOW_ENTRY, "collectors/items.py": COLLECTOR}
    return make_project({"slow_login": {"files": files}})


def test_check_gives_up_on_a_slow_stage_one_at_its_limit(make_project, tmp_path):
    project = slow_project(make_project)
    config = tmp_path / "config.yaml"
    config.write_text("login_seconds: 30\nstage_one_timeout: 1\n")
    started = time.monotonic()
    command = [sys.executable, "-m", "integrations_pipeline.cli", "--project", str(project)]
    command += ["check", "slow_login", "--config", str(config)]
    out = subprocess.run(
        command, cwd=PROJECT, capture_output=True, text=True, env=dict(os.environ), timeout=300
    )
    assert time.monotonic() - started < 15, "check waited for StageOne"
    assert out.returncode == 1, out.stdout + out.stderr
    assert EXPECTED in out.stderr


def test_a_run_fails_at_the_limit_and_runs_no_task(make_project):
    project = slow_project(make_project)
    started = time.monotonic()
    result = run_integration("slow_login", {"login_seconds": 30}, stage_one_timeout=1, project=project)
    assert time.monotonic() - started < 15, "the run waited for StageOne"
    assert not result.success
    assert any(EXPECTED in error for error in result.errors), result.errors
    assert result["list_items"].status == "skipped"
    quick = run_integration("slow_login", {"login_seconds": 0}, stage_one_timeout=1, project=project)
    assert quick.success and quick["list_items"].data == ["ok"]


def test_stage_one_timeout_must_be_a_positive_number(make_project):
    project = slow_project(make_project)
    result = run_integration("slow_login", {"stage_one_timeout": -1}, project=project)
    assert not result.success
    expected = "config field 'stage_one_timeout' must be a positive number of seconds, got -1"
    assert any(expected in error for error in result.errors), result.errors
