"""What each integration's job asks for and refuses: its own config only, a broken
integration's load error, and runs that may not touch a deployment's findings."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.findings.store import get_store
from integrations_pipeline.operations.deployments import Deployment, DeploymentStore
from integrations_pipeline.orchestration.build import build_definitions
from integrations_pipeline.testing import run_integration

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ["hello_world", "aws", "github", "postgres"]


def dagster(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The `dagster` command as a user runs it, from the project folder."""
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    home.mkdir(exist_ok=True)
    command = [str(Path(sys.executable).parent / "dagster"), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_each_job_asks_only_for_its_own_stage_one():
    repo = build_definitions(load_catalog()).get_repository_def()
    for name in SHIPPED:
        fields = repo.get_job(name).run_config_schema.config_type.fields
        assert set(fields["resources"].config_type.fields) == {name, "io_manager"}, name
        # Nothing but the integration's own fields is required to launch it.
        assert [k for k, f in fields.items() if f.is_required] == ["resources"], name


def test_scaffold_config_works_for_every_shipped_job(tmp_path):
    for name in SHIPPED:
        done = dagster("job", "scaffold_config", "-m", "integrations_pipeline", "-j", name, home=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        config = yaml.safe_load(done.stdout)
        assert set(config["resources"]) == {name, "io_manager"}
        assert config["resources"][name]["config"]["task_timeout"] == 900
    # What it prints runs once the integration's own fields are filled in.
    scaffold = yaml.safe_load(
        dagster(
            "job", "scaffold_config", "-m", "integrations_pipeline", "-j", "hello_world", home=tmp_path
        ).stdout
    )
    scaffold["resources"]["hello_world"]["config"]["api_key"] = "demo-key"
    (tmp_path / "scaffold.yaml").write_text(yaml.safe_dump(scaffold))
    job = ["-m", "integrations_pipeline", "-j", "hello_world"]
    executed = dagster("job", "execute", *job, "-c", str(tmp_path / "scaffold.yaml"), home=tmp_path)
    assert executed.returncode == 0, (executed.stdout + executed.stderr)[-3000:]


def test_a_broken_integrations_job_takes_its_own_config_and_fails_with_the_load_error(make_project):
    project = make_project(
        {
            "weather": {
                "schema": {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"type": "string"}},
                },
                "files": {"collectors/feed.py": "import no_such_module_here\n"},
            }
        }
    )
    job = build_definitions(load_catalog(project)).resolve_job_def("weather")
    for config in ({"api_key": "k-123"}, {"api_key": {"env": "WEATHER_KEY"}}, None):
        run_config = {"resources": {"weather": {"config": config}}} if config else {}
        result = job.execute_in_process(run_config=run_config, raise_on_error=False)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        description = failure.step_failure_data.user_failure_data.description
        assert description.startswith("integration 'weather' failed to load: cannot import")
        assert "no_such_module_here" in description


def test_a_run_refused_before_any_task_records_no_evaluation():
    result = run_integration("hello_world", {"api_key": "ab"})  # shorter than the schema's minLength
    assert not result.success
    [error] = result.errors
    assert error == "integration 'hello_world': config field 'api_key': does not satisfy 'minLength' " + (
        "(value hidden: secret)"
    )
    assert get_store().evaluated_tasks(result.run_id) == set()
    assert get_store().list_findings(integration="hello_world") == []


@pytest.fixture
def acme(monkeypatch):
    """Deployment acme-hello of hello_world, its key in ACME_KEY; globex's key in GLOBEX_KEY."""
    monkeypatch.setenv("ACME_KEY", "acme-key-0001")
    monkeypatch.setenv("GLOBEX_KEY", "globex-key-0002")
    store = DeploymentStore()
    store.add(Deployment("acme-hello", "hello_world", {"api_key": {"env": "ACME_KEY"}}), load_catalog())
    return store


def execute(tmp_path: Path, config: dict, tags: dict) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.yaml"
    config_file.write_text(yaml.safe_dump({"resources": {"hello_world": {"config": config}}}))
    return dagster(
        "job", "execute", "-m", "integrations_pipeline", "-j", "hello_world",
        "-c", str(config_file), "--tags", json.dumps(tags), home=tmp_path / "dagster-home",
    )  # fmt: skip


def test_a_run_in_a_deployments_partition_with_another_config_is_refused(acme, tmp_path):
    refused = execute(tmp_path, {"api_key": {"env": "GLOBEX_KEY"}}, {"dagster/partition": "acme-hello"})
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "the run is for deployment 'acme-hello' but does not carry its stored config" in output
    assert "globex-key-0002" not in output
    # The deployment tag names it as surely as the partition does.
    by_tag = execute(tmp_path, {"api_key": {"env": "GLOBEX_KEY"}}, {"deployment": "acme-hello"})
    assert by_tag.returncode != 0
    assert get_store().list_findings(deployment="acme-hello") == []
    # With the deployment's own config, the run is the deployment's.
    own = execute(tmp_path, {"api_key": {"env": "ACME_KEY"}}, {"dagster/partition": "acme-hello"})
    assert own.returncode == 0, (own.stdout + own.stderr)[-3000:]
    [finding] = get_store().list_findings(deployment="acme-hello")
    assert finding["task"] == "check_item"


def test_a_run_the_platform_launched_uses_the_deployments_stored_config(acme, tmp_path, monkeypatch):
    # Launched for the deployment (scheduler, run-now): whatever config the request carried,
    # the deployment's config as stored now is the one used.
    monkeypatch.setenv("GLOBEX_KEY", "x")  # too short: the run fails if it uses this one
    done = execute(
        tmp_path,
        {"api_key": {"env": "GLOBEX_KEY"}},
        {"dagster/partition": "acme-hello", "integrations/trigger": "manual"},
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert [f["task"] for f in get_store().list_findings(deployment="acme-hello")] == ["check_item"]


def test_a_run_naming_two_deployments_or_another_integrations_is_refused(acme, tmp_path, make_project):
    two = execute(
        tmp_path,
        {"api_key": {"env": "ACME_KEY"}},
        {"dagster/partition": "acme-hello", "deployment": "globex"},
    )
    assert two.returncode != 0
    assert "tagged deployment 'globex' but is in partition 'acme-hello'" in two.stdout + two.stderr
    assert get_store().list_findings(deployment="acme-hello") == []


def test_checks_lead_with_their_severity_and_runs_carry_their_findings(tmp_path):
    repo = build_definitions(load_catalog()).get_repository_def()
    key = dg.AssetCheckKey(dg.AssetKey(["hello_world", "list_items"]), "check_item")
    assert repo.asset_graph.get_check_spec(key).description.startswith("[high] Check for specific item")
    job = repo.get_job("aws")
    assert job.tags["integrations.tag/cloud"] == ""
    with dg.instance_for_test() as instance:
        result = run_integration("hello_world", {"api_key": "abcd"}, instance=instance)
        tags = instance.get_run_by_id(result.run_id).tags
        assert tags["integrations/findings_open"] == "1" and tags["integrations/max_severity"] == "high"
        quiet = run_integration("hello_world", {"api_key": "abcd"}, instance=instance, tasks=["list_items"])
        assert "integrations/findings_open" not in instance.get_run_by_id(quiet.run_id).tags


INSIGHT_THAT_FAILS = """
from integrations_pipeline.sdk import task


@task(name="judge", type="insight", severity="critical")
def judge(self, ctx):
    ctx.get_data("feed")
    raise RuntimeError("the judge fell over")
"""


def test_an_insights_error_is_its_deployments_check_evaluation(make_project):
    project = make_project(
        {
            "weather": {
                "files": {
                    "collectors/feed.py": "from integrations_pipeline.sdk import task\n\n\n"
                    "@task(name='feed')\ndef feed(self, ctx):\n    return {'data': []}\n",
                    "insights/judge.py": INSIGHT_THAT_FAILS,
                }
            }
        }
    )
    with dg.instance_for_test() as instance:
        result = run_integration("weather", {}, project=project, instance=instance, deployment="initech")
        assert not result.success
        [evaluation] = [
            e.dagster_event.event_specific_data
            for e in result.event_log
            if e.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ]
        assert evaluation.partition == "initech" and not evaluation.passed
        assert evaluation.description.startswith("deployment 'initech': error: ")
        assert "the judge fell over" in evaluation.description


TWO_FEEDS = """
from integrations_pipeline.sdk import task


@task(name="first", order=1)
def first(self, ctx):
    return {"data": [1]}


@task(name="second", order=2)
def second(self, ctx):
    return {"data": [2]}
"""
JUDGES = """
from integrations_pipeline.sdk import task


@task(name="judge_first", type="insight")
def judge_first(self, ctx):
    return {"violation": False, "data": ctx.get_data("first")}


@task(name="judge_second", type="insight")
def judge_second(self, ctx):
    return {"violation": False, "data": ctx.get_data("second")}
"""


def test_insights_left_out_by_tasks_say_so_whichever_way_they_were_skipped(make_project):
    files = {"collectors/feeds.py": TWO_FEEDS, "insights/judges.py": JUDGES}
    project = make_project({"weather": {"files": files}})
    result = run_integration("weather", {}, project=project, tasks=["first"])
    assert result.success, result.errors
    skipped = {e["task"]: (e["status"], e["message"]) for e in get_store().evaluations(run_id=result.run_id)}
    # judge_first's step ran and found itself unselected; judge_second's step never ran
    # (Dagster skipped it: `second` was not materialized). Both are the same to a reader.
    assert skipped == {
        "judge_first": ("skipped", "not selected by 'tasks'"),
        "judge_second": ("skipped", "not selected by 'tasks'"),
    }


STAGE_ONE_REFUSES = """
from integrations_pipeline.sdk import BaseRunner, register_tasks


class Runner(BaseRunner):
    name = "weather"

    def __init__(self, config):
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        def start(self):
            raise PermissionError("401: bad credentials")

    class StageTwo(BaseRunner.StageTwo):
        pass
"""
FLAKY = """
from integrations_pipeline.sdk import task


@task(name="feed")
def feed(self, ctx):
    raise ConnectionResetError("the API hung up")
"""


def test_deterministic_failures_are_not_retried_and_others_are(make_project):
    retries = {"run_retries": {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": True}}
    project = make_project(
        {
            "weather": {"files": {"entry.py": STAGE_ONE_REFUSES, "collectors/feed.py": FLAKY}},
            "flaky": {"files": {"collectors/feed.py": FLAKY}},
        }
    )
    with dg.instance_for_test(overrides=retries) as instance:

        def will_retry(result: Any) -> str:
            assert not result.success
            return instance.get_run_by_id(result.run_id).tags["dagster/will_retry"]

        # A config error and a StageOne (credentials) error fail the same way again: no retry.
        assert will_retry(run_integration("hello_world", {"api_key": "ab"}, instance=instance)) == "false"
        assert will_retry(run_integration("weather", {}, project=project, instance=instance)) == "false"
        # A task that failed (a connection reset, say) may succeed when retried.
        assert will_retry(run_integration("flaky", {}, project=project, instance=instance)) == "true"
