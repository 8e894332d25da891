"""The `integrations` command line, run as a real process."""

import json

import pytest

from integrations_tests.conftest import case
from integrations_tests.framework.cli.command import integrations


def test_list_shows_tasks_and_load_errors():
    out = integrations("--project", str(case("broken")), "list", check=True).stdout
    assert "good_one  (enabled)" in out and "insight     500  judge severity=low" in out
    assert "syntax_error  (enabled, LOAD ERROR)" in out
    listed = json.loads(integrations("--project", str(case("guide")), "list", "--json", check=True).stdout)
    demo = next(row for row in listed if row["name"] == "guide_demo")
    retired = next(t for t in demo["tasks"] if t["name"] == "check_retired")
    assert "retired_collector" in retired["unrunnable"]


def test_validate_passes_on_this_project_and_fails_with_one_line_per_problem():
    ok = integrations("validate", check=True)
    assert ok.stdout.startswith("ok:")
    broken = integrations("--project", str(case("broken")), "validate")
    assert broken.returncode == 1
    lines = broken.stdout.strip().splitlines()
    assert len(lines) == 10
    assert any(line.startswith("syntax_error: cannot import collect.py: SyntaxError") for line in lines)
    guide = integrations("--project", str(case("guide")), "validate")
    assert (
        guide.returncode == 1 and "task 'check_retired' reads the data of 'retired_collector'" in guide.stdout
    )


def test_check_validates_config_and_runs_stage_one_only(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("api_key: {env: HELLO_WORLD_API_KEY}\n")
    ok = integrations(
        "check",
        "hello_world",
        "--config",
        str(config),
        env={"HELLO_WORLD_API_KEY": "key-12345"},
        check=True,
    )
    assert "config valid and StageOne succeeded" in ok.stdout
    config.write_text("api_key: abc\n")
    bad = integrations("check", "hello_world", "--config", str(config))
    assert bad.returncode == 1 and "config field 'api_key'" in bad.stderr
    failing = tmp_path / "guide.json"
    failing.write_text(json.dumps({"api_key": "guide-key-123", "fail_stage_one": True}))
    stage_one = integrations("--project", str(case("guide")), "check", "guide_demo", "--config", str(failing))
    assert stage_one.returncode == 1 and "StageOne failed: PermissionError" in stage_one.stderr
    assert "guide-key-123" not in stage_one.stderr


@pytest.mark.usefixtures("database_url")
def test_run_then_violations_as_json_with_filters():
    integrations("run", "hello_world", "--config", "integrations/hello_world/config.example.yaml",
                 env={"HELLO_WORLD_API_KEY": "demo-key-1"}, check=True)  # fmt: skip
    records = json.loads(integrations("violations", "--json", check=True).stdout)
    assert len(records) == 1
    assert set(records[0]) >= {
        "id", "integration", "deployment", "task", "title", "severity", "message",
        "status", "first_seen", "last_seen", "run_id", "data",
    }  # fmt: skip
    assert json.loads(integrations("violations", "--json", "--severity", "low", check=True).stdout) == []
    assert json.loads(integrations("violations", "--json", "--status", "resolved", check=True).stdout) == []
    table = integrations("violations", "--integration", "hello_world", check=True).stdout
    assert "open" in table and "check_item" in table


@pytest.mark.usefixtures("database_url")
def test_mute_list_and_remove_from_the_command_line():
    integrations("run", "hello_world", "--config", "integrations/hello_world/config.example.yaml",
                 env={"HELLO_WORLD_API_KEY": "demo-key-1"}, check=True)  # fmt: skip
    refused = integrations("mute", "--integration", "hello_world", "--reason", "x", "--expires", "2001-01-01")
    assert refused.returncode == 1 and "in the past" in refused.stderr
    out = integrations("mute", "--integration", "hello_world", "--task", "check_item",
                       "--reason", "known item", "--expires", "7d", check=True).stdout  # fmt: skip
    mute_id = out.split()[1]
    [mute] = json.loads(integrations("mutes", "list", "--json", check=True).stdout)
    assert mute["id"] == mute_id and mute["reason"] == "known item" and mute["active"]
    [muted] = json.loads(integrations("violations", "--json", "--muted", check=True).stdout)
    assert muted["task"] == "check_item" and muted["muted"]
    assert json.loads(integrations("violations", "--json", "--not-muted", check=True).stdout) == []
    assert "(muted)" in integrations("violations", check=True).stdout
    integrations("mutes", "remove", mute_id, check=True)
    assert integrations("mutes", "list", check=True).stdout.strip() == "no mutes"
    missing = integrations("mutes", "remove", mute_id)
    assert missing.returncode == 1 and f"no mute with id {mute_id}" in missing.stderr
