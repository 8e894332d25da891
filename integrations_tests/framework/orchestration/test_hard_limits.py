"""A task that ignores task_timeout (it holds the GIL) is still bounded: its step process is
killed on the multiprocess path; an in-process run carries a max_runtime derived from its
config for run monitoring."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import PROJECT

GREEDY = """
import re

from integrations_pipeline.sdk import task


@task(name="greedy", order=1)
def greedy(self, ctx):
    # Catastrophic backtracking: hours inside the regex engine, which never lets go of the GIL.
    re.match(r"(a+)+$", "a" * 64 + "b")
    return {"data": []}


@task(name="modest", order=2)
def modest(self, ctx):
    return {"data": ["fine"]}
"""


def test_a_step_that_holds_the_gil_past_its_limit_is_killed(make_project, tmp_path):
    project = make_project({"greedy": {"files": {"collectors/tasks.py": GREEDY}}})
    config = {
        "execution": {"config": {"multiprocess": {}}},
        "resources": {"greedy": {"config": {"task_timeout": 1}}},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "home").mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "INTEGRATIONS_PROJECT_DIR": str(project),
        "INTEGRATIONS_HARD_LIMIT_GRACE_SECONDS": "2",
    }
    command = [str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "integrations_pipeline"]
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, "-j", "greedy", "-c", str(tmp_path / "run.yaml")],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the step would run for hours
        raise AssertionError("the greedy step was not killed") from None
    # Bounded: the step died a grace after its limit, and the run ended.
    assert process.returncode != 0
    assert time.monotonic() - started < 200
    assert "greedy__greedy" in output, output[-3000:]


def test_an_in_process_run_gets_a_max_runtime_from_its_config():
    with dg.instance_for_test() as instance:
        result = run_integration("hello_world", {"api_key": "abcd", "task_timeout": 20}, instance=instance)
        tags = instance.get_run_by_id(result.run_id).tags
        # StageOne's 60 s, two tasks of 20 s, and the grace (30 s).
        assert tags["dagster/max_runtime"] == str(60 + 2 * 20 + 30)
        given = run_integration(
            "hello_world", {"api_key": "abcd"}, instance=instance, tags={"dagster/max_runtime": "5000"}
        )
        assert instance.get_run_by_id(given.run_id).tags["dagster/max_runtime"] == "5000"
