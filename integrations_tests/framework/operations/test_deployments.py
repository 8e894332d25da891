"""Deployments: validation when saved, secrets as references, apply, and the CLI."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.operations.deployments import (
    Deployment,
    DeploymentError,
    DeploymentStore,
    due_slot,
)
from integrations_tests.conftest import PROJECT, case

GUIDE_CONFIG = {"api_key": {"env": "GUIDE_DEMO_KEY"}, "region": "eu-west-1"}


@pytest.fixture
def catalog():
    return load_catalog(case("guide"))


@pytest.fixture
def store(database_url):
    return DeploymentStore(database_url)


def demo(name="acme", **kwargs):
    return Deployment(
        name=name, integration="guide_demo", config=kwargs.pop("config", GUIDE_CONFIG), **kwargs
    )


def test_add_show_update_pause_resume_remove(store, catalog):
    added = store.add(demo(schedule="*/5 * * * *", timezone="Europe/Paris"), catalog)
    assert (added.schedule, added.timezone, added.paused) == ("*/5 * * * *", "Europe/Paris", False)
    updated, changed = store.update("acme", catalog, schedule="0 * * * *")
    assert changed == ["schedule"] and updated.schedule == "0 * * * *"
    assert store.update("acme", catalog, schedule="0 * * * *")[1] == []
    assert store.update("acme", catalog, paused=True)[0].paused
    assert not store.update("acme", catalog, paused=False)[0].paused
    store.remove("acme")
    assert store.all() == []
    with pytest.raises(DeploymentError, match="no deployment named 'acme'"):
        store.get("acme")


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (
            demo(config={"api_key": "literal-secret-key"}),
            "config field 'api_key' is secret: store it as {env: VAR}",
        ),
        (demo(config={**GUIDE_CONFIG, "region": "mars"}), "config field 'region': 'mars' is not one of"),
        (demo(config={**GUIDE_CONFIG, "account_id": "12"}), "config field 'account_id': '12' does not match"),
        (demo(config={"region": "us-east-1"}), "config field 'api_key': 'api_key' is a required property"),
        (demo(config={**GUIDE_CONFIG, "tasks": ["nope"]}), "names 'nope', which is not a task"),
        (demo(schedule="every day"), "field 'schedule': 'every day' is not a valid cron expression"),
        (demo(timezone="Mars/Olympus"), "field 'timezone': unknown time zone"),
        (demo(name="adhoc"), "reserved"),
        (demo(name="Bad Name"), "does not fit"),
        (Deployment(name="x", integration="nope", config={}), "integration 'nope' is not available"),
    ],
)
def test_invalid_deployments_are_refused_naming_the_field(store, catalog, deployment, message):
    with pytest.raises(DeploymentError) as raised:
        store.add(deployment, catalog)
    assert message in str(raised.value)
    assert store.all() == []


def test_env_references_are_checked_when_the_variable_is_set(store, catalog, monkeypatch):
    monkeypatch.setenv("GUIDE_DEMO_KEY", "tiny-k")
    with pytest.raises(DeploymentError, match="config field 'api_key': '\\*\\*\\*' is too short") as raised:
        store.add(demo(), catalog)
    assert "tiny-k" not in str(raised.value)  # the value came from the environment: hidden
    monkeypatch.delenv("GUIDE_DEMO_KEY")
    assert store.add(demo(), catalog).config == GUIDE_CONFIG  # unset here: checked at run time


def test_apply_is_declarative_and_idempotent(store, catalog):
    wanted = [demo("acme", schedule="0 * * * *"), demo("globex")]
    assert store.apply(wanted, catalog) == ["create acme (guide_demo)", "create globex (guide_demo)"]
    assert store.apply(wanted, catalog) == []
    changed = [demo("acme", schedule="30 * * * *"), demo("globex")]
    assert store.apply(changed, catalog, dry_run=True) == ["update acme: schedule"]
    assert store.get("acme").schedule == "0 * * * *"
    assert store.apply(changed, catalog, prune=True) == ["update acme: schedule"]
    assert store.apply([demo("globex")], catalog, prune=True) == ["remove acme"]
    with pytest.raises(DeploymentError, match="is secret"):
        store.apply([demo("globex"), demo("initech", config={"api_key": "literal-key-123"})], catalog)
    assert [d.name for d in store.all()] == ["globex"]  # nothing applied when one is invalid


def test_due_slot_is_the_latest_tick_since_the_schedule_started():
    from datetime import UTC, datetime

    started = datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)
    every_minute = Deployment("a", "x", {}, schedule="* * * * *", schedule_start=started)
    assert due_slot(every_minute, started) == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    # Down for an hour: one slot, the latest, not sixty.
    assert due_slot(every_minute, datetime(2026, 1, 1, 11, 0, 45, tzinfo=UTC)) == datetime(
        2026, 1, 1, 11, 0, tzinfo=UTC
    )
    later = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    hourly = Deployment("b", "x", {}, schedule="0 * * * *", schedule_start=later)
    assert due_slot(hourly, later) is None  # 10:00 came before the schedule started
    paris = Deployment("c", "x", {}, schedule="0 9 * * *", timezone="Europe/Paris", schedule_start=started)
    assert due_slot(paris, datetime(2026, 1, 2, 8, 30, tzinfo=UTC)) == datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
    assert (
        due_slot(Deployment("d", "x", {}, schedule="* * * * *", paused=True, schedule_start=started), started)
        is None
    )
    assert due_slot(Deployment("e", "x", {}, schedule=None), started) is None


def integrations(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", "--project", str(case("guide")), *args],
        cwd=PROJECT, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300,
    )  # fmt: skip


@pytest.mark.usefixtures("database_url")
def test_deployments_command_line(tmp_path):
    config = tmp_path / "acme.yaml"
    config.write_text(yaml.safe_dump(GUIDE_CONFIG))
    added = integrations("deployments", "add", "acme", "--integration", "guide_demo", "--config", str(config),
                         "--schedule", "*/10 * * * *")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added deployment acme of guide_demo, run on '*/10 * * * *' (UTC)" in added.stdout
    literal = tmp_path / "literal.yaml"
    literal.write_text("api_key: plain-text-key\n")
    refused = integrations(
        "deployments", "add", "leaky", "--integration", "guide_demo", "--config", str(literal)
    )
    assert refused.returncode == 1 and "config field 'api_key' is secret" in refused.stderr
    assert "plain-text-key" not in refused.stderr
    assert integrations("deployments", "pause", "acme").stdout.strip() == "acme: paused"
    [listed] = json.loads(integrations("deployments", "list", "--json").stdout)
    assert listed["paused"] and listed["config"] == GUIDE_CONFIG
    assert "run requested" in integrations("deployments", "run-now", "acme").stdout
    assert json.loads(integrations("deployments", "show", "acme").stdout)["name"] == "acme"
    apply_file = tmp_path / "deployments.yaml"
    apply_file.write_text(yaml.safe_dump({"deployments": [
        {"name": "acme", "integration": "guide_demo", "config": GUIDE_CONFIG, "schedule": "*/10 * * * *"},
        {"name": "globex", "integration": "guide_demo", "config": GUIDE_CONFIG},
    ]}))  # fmt: skip
    applied = integrations("deployments", "apply", str(apply_file), "--prune")
    assert applied.stdout.splitlines() == ["update acme: paused", "create globex (guide_demo)"]
    assert integrations("deployments", "apply", str(apply_file)).stdout.strip() == "no changes"
    assert "removed deployment globex" in integrations("deployments", "remove", "globex").stdout
    missing = integrations("deployments", "remove", "globex")
    assert missing.returncode == 1 and "no deployment named 'globex'" in missing.stderr


def test_a_deployment_that_went_bad_can_still_be_paused_and_removed(store, catalog):
    from sqlalchemy import update

    from integrations_pipeline.operations.deployments import DeploymentRow

    store.add(demo(schedule="* * * * *"), catalog)
    with store.engine.begin() as connection:
        connection.execute(update(DeploymentRow).values(config={"tasks": ["nope"]}))
    assert store.update("acme", catalog, paused=True)[0].paused
    store.remove("acme")


def test_env_references_inside_arrays_are_accepted(store, make_project):
    schema = {
        "type": "object",
        "properties": {"api_keys": {"type": "array", "items": {"type": "string", "writeOnly": True}}},
    }
    project = make_project({"multi": {"schema": schema, "files": {"collectors/c.py": COLLECTOR}}})
    deployment = Deployment("multi-keys", "multi", {"api_keys": [{"env": "KEY_ONE"}, {"env": "KEY_TWO"}]})
    assert store.add(deployment, load_catalog(project)).config["api_keys"][1] == {"env": "KEY_TWO"}
    with pytest.raises(DeploymentError, match=r"config field 'api_keys\.0' is secret"):
        store.add(Deployment("multi-literal", "multi", {"api_keys": ["plain"]}), load_catalog(project))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"schedule": 5}, "field 'schedule' must be str or null, got int"),
        ({"config": [1]}, "field 'config' must be dict, got list"),
        ({"paused": "yes"}, "field 'paused' must be bool, got str"),
        ({"colour": "red"}, "unknown field(s) ['colour']"),
    ],
)
def test_apply_files_with_wrong_types_are_refused_naming_the_field(item, message):
    from integrations_pipeline.operations.deployments import parse_deployments

    with pytest.raises(DeploymentError) as raised:
        parse_deployments({"deployments": [{"name": "acme", "integration": "guide_demo", **item}]})
    assert message in str(raised.value)


COLLECTOR = (
    "from integrations_pipeline.sdk import task\n\n\n"
    "@task(name='c')\ndef c(self, ctx):\n    return {'data': []}\n"
)
