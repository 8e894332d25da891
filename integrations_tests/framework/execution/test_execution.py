"""What a run does, on an integration written to the authoring guide (only imports changed)."""

import time
from pathlib import Path

import dagster as dg
import pytest

from integrations_pipeline.authoring.runner import TaskContext
from integrations_pipeline.common.errors import IntegrationConfigError, TaskNotRunError
from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration, secret_leaks
from integrations_tests.conftest import case

GUIDE = case("guide")
KEY = "guide-demo-key-0001"


def guide_run(**kwargs):
    config = {"api_key": KEY, **kwargs.pop("config", {})}
    return run_integration("guide_demo", config, project=GUIDE, **kwargs)


def started_steps(result):
    return [
        e.step_key.split("__", 1)[1]
        for e in result.dagster_result.all_events
        if e.event_type == dg.DagsterEventType.STEP_START
    ]


def evaluations(result):
    return {e.check_name: e for e in result.dagster_result.get_asset_check_evaluations()}


def test_guide_integration_runs_in_order_with_the_context_api():
    result = guide_run()
    assert result.success, result.errors
    assert started_steps(result) == [
        "list_users", "list_groups", "slow_inventory",
        "check_admins", "check_groups", "check_groups_collected",
    ]  # fmt: skip
    # Disabled tasks are not part of the job; an insight reading one is left out too.
    assert "retired_collector" not in result.tasks and "check_retired" not in result.tasks
    users = result["list_users"]
    assert users.status == "succeeded"
    assert users.message == "2 users (integration guide_demo)"  # ctx.config incl. integration_name
    assert users.logs == ["listing users in us-east-1 with key ***"]  # ctx.base + redaction
    groups = result["list_groups"]
    assert groups.status == "succeeded" and groups.errors == ["group 'legacy' could not be read; skipped it"]
    admins = result["check_admins"]
    assert admins.violation and admins.data == {"admins": ["alice"]}
    assert admins.logs == ["previous message: 2 users (integration guide_demo)"]  # ctx.get_message
    checks = evaluations(result)
    assert not checks["check_admins"].passed
    assert checks["check_admins"].severity == dg.AssetCheckSeverity.ERROR
    assert checks["check_admins"].metadata["severity"].value == "critical"
    assert checks["check_groups"].passed and checks["check_groups_collected"].passed
    # The key is a schema-marked secret given literally: no event of the run carries it.
    assert all(KEY not in dg.serialize_value(e) for e in result.dagster_result.all_events)
    materialization = next(
        e
        for e in result.dagster_result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and e.asset_key == dg.AssetKey(["guide_demo", "list_groups"])
    )
    assert "legacy" in materialization.materialization.metadata["errors"].value


def test_tasks_config_runs_only_the_named_tasks():
    result = guide_run(tasks=["list_users", "check_admins"])
    assert result.success
    statuses = {name: outcome.status for name, outcome in result.tasks.items()}
    assert statuses == {
        "list_users": "succeeded", "list_groups": "skipped", "slow_inventory": "skipped",
        "check_admins": "succeeded", "check_groups": "skipped", "check_groups_collected": "skipped",
    }  # fmt: skip
    assert set(evaluations(result)) == {"check_admins"}


def test_tasks_config_naming_unknown_or_disabled_tasks_is_refused():
    for name, fragment in [
        ("nope", "not a task of this integration"),
        ("retired_collector", "disabled"),
    ]:
        result = guide_run(tasks=[name])
        assert not result.success
        assert any(f"names '{name}'" in e and fragment in e for e in result.errors), result.errors


def test_task_timeout_fails_the_slow_task_only_and_does_not_hold_the_run():
    started = time.monotonic()
    result = guide_run(config={"slow_seconds": 60}, task_timeout=2)
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"the run waited for the slow task ({elapsed:.0f} s)"
    slow = result["slow_inventory"]
    assert slow.status == "failed"
    assert "task 'slow_inventory'" in slow.error and "timed out after 2 s (task_timeout)" in slow.error
    assert not result.success
    for other in ("list_users", "list_groups", "check_admins", "check_groups"):
        assert result[other].status == "succeeded"


def test_failing_collector_fails_the_run_and_its_readers_are_not_evaluated():
    result = guide_run(config={"fail_groups": True})
    assert not result.success
    groups = result["list_groups"]
    assert groups.status == "failed"
    assert "task 'list_groups': raised ConnectionError: groups API refused key ***" in groups.error
    assert KEY not in groups.error
    assert groups.errors == ["retrying the groups API once"]  # add_error survives the failure
    checks = evaluations(result)
    assert "check_groups" not in checks  # never shown as passed
    assert result["check_groups"].status == "skipped"
    # An insight that only asks ctx.succeeded() still runs, and sees False.
    assert result["check_groups_collected"].violation
    assert not checks["check_groups_collected"].passed
    assert result["check_admins"].status == "succeeded"
    failure = next(
        e for e in result.dagster_result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
    )
    traceback_text = failure.step_failure_data.user_failure_data.metadata["traceback"].value
    assert "list_groups.py" in traceback_text and KEY not in traceback_text


def test_stage_one_failure_names_the_integration_and_hides_the_secret():
    result = guide_run(config={"fail_stage_one": True})
    assert not result.success
    assert all(o.status == "skipped" for o in result.tasks.values())
    joined = "\n".join(result.errors)
    assert "integration 'guide_demo': StageOne failed: PermissionError: login refused for key ***" in joined
    assert KEY not in joined


def test_invalid_config_is_refused_before_any_task_runs():
    result = guide_run(config={"account_id": "12"})
    assert not result.success
    assert any("config field 'account_id'" in e for e in result.errors), result.errors
    assert all(o.status == "skipped" for o in result.tasks.values())


def test_malformed_task_results_fail_naming_the_task_and_the_problem():
    result = run_integration("bad_results", {}, project=GUIDE)
    assert not result.success
    expected = {
        "returns_string": "returned str, expected a dict",
        "missing_data": "'data': Field required",
        "violation_not_bool": "'violation': Input should be a valid boolean",
        "data_wrong_type": "'data.dict[str,any]': Input should be a valid dictionary",
    }
    for task, fragment in expected.items():
        outcome = result[task]
        assert outcome.status == "failed", task
        assert f"task '{task}'" in outcome.error and fragment in outcome.error, outcome.error
    assert result["good_collector"].status == "succeeded"


def test_violations_land_in_the_database_and_resolve(database_url):
    first = guide_run()
    [record] = get_store().list_findings(integration="guide_demo")
    assert record["task"] == "check_admins" and record["severity"] == "critical"
    assert record["status"] == "open" and record["deployment"] is None
    assert record["title"] == "Unexpected admins" and record["run_id"] == first.run_id
    assert record["data"] == {"admins": ["alice"]} and record["message"] == "unexpected admins: alice"

    second = guide_run()
    [again] = get_store().list_findings(integration="guide_demo")
    assert again["id"] == record["id"] and again["first_seen"] == record["first_seen"]
    assert again["last_seen"] > record["last_seen"] and again["run_id"] == second.run_id

    guide_run(config={"admins_allowed": ["alice"]})
    [resolved] = get_store().list_findings(integration="guide_demo")
    assert resolved["status"] == "resolved" and resolved["id"] == record["id"]


def test_each_deployment_is_its_own_partition_and_violation():
    acme = guide_run(deployment="acme")
    globex = guide_run(deployment="globex", config={"admins_allowed": ["alice"]})
    adhoc = guide_run()
    for result, partition in ((acme, "acme"), (globex, "globex"), (adhoc, "adhoc")):
        checks = result.dagster_result.get_asset_check_evaluations()
        assert {c.partition for c in checks} == {partition}
        materializations = result.dagster_result.get_asset_materialization_events()
        assert {m.partition for m in materializations} == {partition}
    records = {
        r["deployment"]: r["status"] for r in get_store().list_findings() if r["task"] == "check_admins"
    }
    assert records == {"acme": "open", None: "open"}  # globex allows alice: no violation


def test_collected_data_is_stored_per_run(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        first = guide_run(instance=instance, deployment="acme")
        second = guide_run(instance=instance, deployment="acme")
        storage = Path(instance.storage_directory()) / "integrations"
        stored = sorted(p.name for p in storage.iterdir())
    assert stored == sorted([first.run_id, second.run_id])


def test_secret_passed_by_env_reference_never_reaches_storage(tmp_path, monkeypatch):
    secret = "env-only-secret-4f9a2c"
    monkeypatch.setenv("GUIDE_DEMO_API_KEY", secret)
    home = tmp_path / "dagster-home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = run_integration(
            "guide_demo",
            {"api_key": {"env": "GUIDE_DEMO_API_KEY"}, "fail_groups": True},
            project=GUIDE,
            instance=instance,
        )
        assert result["list_users"].status == "succeeded"
        run = instance.get_run_by_id(result.run_id)
        assert run.run_config["resources"]["guide_demo"]["config"]["api_key"] == {"env": "GUIDE_DEMO_API_KEY"}
        events = instance.all_logs(result.run_id)
        assert events and all(secret not in (e.message or "") for e in events)
        assert all(secret not in dg.serialize_value(e) for e in events)
    leaked = [
        p for p in _files(home) + _files(tmp_path / "integrations-home") if secret.encode() in p.read_bytes()
    ]
    assert leaked == []
    records = get_store().list_findings()
    assert records and secret not in repr(records)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_runner_run_works_like_the_seed():
    from integrations_tests.framework.cases.guide.integrations.guide_demo.entry import Runner

    result = Runner({"api_key": KEY}).run(project=GUIDE)
    assert result.success and result.violations == ["check_admins"]


def test_get_data_of_a_task_that_did_not_run_is_a_clear_error():
    ctx = TaskContext(
        integration="demo", task="judge", config={}, base={}, inputs={},
        status_of=lambda name: False, known_tasks={"collect": "collector"},
        log=print, error=print,
    )  # fmt: skip
    with pytest.raises(TaskNotRunError, match="'collect', which did not run or failed in this run"):
        ctx.get_data("collect")
    with pytest.raises(TaskNotRunError, match="'other', which this integration does not have"):
        ctx.get_message("other")
    assert ctx.succeeded("collect") is False


def test_unknown_integration_is_named():
    with pytest.raises(Exception, match="integration 'nope'"):
        run_integration("nope", {}, project=GUIDE)
    assert IntegrationConfigError  # imported for readers: config errors are IntegrationErrors


MINTED = """
import logging

from integrations_pipeline.sdk import TaskContext, register_secrets, task


@task(name="use_token", type="collector", order=50)
def use_token(self, ctx: TaskContext):
    token = "minted-" + ctx.config["seed"] + "-token"  # as if obtained from an STS-like API
    register_secrets([token])
    print("printed", token)
    logging.getLogger("vendor.sdk").warning("header x-token: %s", token)
    ctx.add_log(f"logged {token}")
    ctx.add_error(f"recorded {token}")
    return {"data": {"token": token}, "message": f"got {token}"}


@task(name="fail_with_token", type="collector")
def fail_with_token(self, ctx: TaskContext):
    raise RuntimeError("refused minted-" + ctx.config["seed"] + "-token")
"""


def test_secrets_registered_at_run_time_are_redacted_everywhere(make_project, capfd, caplog):
    project = make_project({"minting": {"files": {"collectors/use_token.py": MINTED}}})
    result = run_integration("minting", {"seed": "a1b2c3"}, project=project)
    token = "minted-a1b2c3-token"
    assert result["use_token"].data == {"token": "***"}
    assert result["use_token"].message == "got ***"
    assert result["fail_with_token"].status == "failed" and "refused ***" in result["fail_with_token"].error
    assert not secret_leaks(result, [token], caplog.text, *capfd.readouterr())


IN_A_URL = """
import logging
from urllib.parse import urlencode

from integrations_pipeline.sdk import TaskContext, task


@task(name="call_vendor", type="collector")
def call_vendor(self, ctx: TaskContext):
    url = "https://vendor.example/items?" + urlencode({"key": ctx.config["api_key"]})
    print("GET", url)
    logging.getLogger("vendor.sdk").warning("GET %s", url)
    ctx.add_log(f"called {url}")
    return {"data": {"url": url}, "message": f"called {url}"}
"""


def test_a_config_secret_percent_encoded_in_a_url_is_redacted_too(make_project, capfd, caplog):
    schema = {"type": "object", "properties": {"api_key": {"type": "string", "writeOnly": True}}}
    project = make_project({"vendor": {"schema": schema, "files": {"collectors/call_vendor.py": IN_A_URL}}})
    key = "b64/key+with=padding=="
    result = run_integration("vendor", {"api_key": key}, project=project)
    assert result["call_vendor"].data == {"url": "https://vendor.example/items?key=***"}
    assert not secret_leaks(result, [key], caplog.text, *capfd.readouterr())


BIG = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="list_many", type="collector")
def list_many(self, ctx: TaskContext):
    return {"data": {"items": [{"id": n, "name": f"item-{n}"} for n in range(10_000)]}}
"""


def test_the_preview_of_a_large_result_is_its_start_and_its_size(make_project):
    project = make_project({"big": {"files": {"collectors/list_many.py": BIG}}})
    result = run_integration("big", {}, project=project)
    [materialization] = result.dagster_result.asset_materializations_for_node("big__list_many")
    preview = materialization.metadata["preview"].value
    assert preview.startswith('{"items": [{"id": 0, "name": "item-0"}, {"id": 1, ')
    assert preview.endswith("… (cut; items: 10000 items)")
    assert len(preview) < 2_100


ECHO = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="echo", type="collector")
def echo(self, ctx: TaskContext):
    return {"data": {"text": ctx.config["text"]}}
"""


def test_a_secret_registered_by_one_run_is_not_redacted_from_another(make_project):
    project = make_project(
        {
            "minting": {"files": {"collectors/use_token.py": MINTED}},
            "echoing": {"files": {"collectors/echo.py": ECHO}},
        }
    )
    run_integration("minting", {"seed": "a1b2c3"}, project=project)
    result = run_integration("echoing", {"text": "minted-a1b2c3-token"}, project=project)
    assert result["echo"].data == {"text": "minted-a1b2c3-token"}
