"""Mutes as a user adds them: a scope that names nothing, a far-off expiry and a pattern too
long for its column are one line on stderr, never a traceback or a silent mute."""

import json

import pytest

from integrations_tests.conftest import case
from integrations_tests.framework.cli.command import integrations

GUIDE = ("--project", str(case("guide")))


def mute(*args):
    return integrations(*GUIDE, "mute", "--reason", "accepted", *args)


def assert_refused(completed, message):
    assert completed.returncode != 0, completed.stdout
    assert message in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr
    assert json.loads(integrations("mutes", "list", "--json").stdout) == []


@pytest.mark.usefixtures("database_url")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--integration", "nope"),
            "error: mute: no integration named 'nope' (integrations: bad_results, guide_demo)",
        ),
        (
            ("--integration", "guide_demo", "--task", "nope"),
            "error: integration 'guide_demo': mute: no task named 'nope' (tasks: check_admins, ",
        ),
        (
            ("--integration", "guide_demo", "--deployment", "nope"),
            "error: integration 'guide_demo': mute: no deployment named 'nope' (deployments: none)",
        ),
        (
            ("--integration", "guide_demo", "--resource", "x" * 513),
            "the resource pattern is 513 characters, longer than the 512 a pattern may have",
        ),
        (
            ("--integration", "guide_demo", "--expires", "99999999999d"),
            "argument --expires: '99999999999d' is beyond the dates this command can take",
        ),
    ],
)
def test_a_mute_that_cannot_be_is_refused_in_one_line(args, message):
    assert_refused(mute(*args), message)


@pytest.mark.usefixtures("database_url")
def test_a_far_off_since_is_a_usage_error():
    listed = integrations("violations", "--since", "99999999999d")
    assert listed.returncode == 2 and "argument --since: '99999999999d' is beyond" in listed.stderr
    assert "Traceback" not in listed.stderr


@pytest.mark.usefixtures("database_url")
def test_a_mute_of_what_exists_is_added():
    added = mute(
        "--integration", "guide_demo", "--task", "check_admins", "--resource", "r\x01*", "--expires", "7d"
    )
    assert added.returncode == 0, added.stderr
    [stored] = json.loads(integrations("mutes", "list", "--json").stdout)
    assert (stored["task"], stored["resource_pattern"]) == ("check_admins", "r\x01*")


def nested(depth):
    return "{a: " * depth + "x" + "}" * depth


@pytest.mark.usefixtures("database_url")
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (f"extra: {nested(1000)}", "is nested too deeply to read"),
        (
            f"extra: {nested(300)}",
            "config field 'extra.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.",
        ),
        (
            f"task_timeout: {10**400}",
            "config field 'task_timeout' is an integer of about 401 digits, too large",
        ),
        ("extra: .inf", "config field 'extra' is inf, which is not a number a config can hold"),
    ],
)
def test_a_hostile_config_is_one_line_naming_the_field(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("GUIDE_DEMO_KEY", "guide-demo-key-1")
    config = tmp_path / "config.yaml"
    config.write_text(f"api_key: {{env: GUIDE_DEMO_KEY}}\nregion: eu-west-1\n{extra}\n")
    for command in (
        ("check", "guide_demo", "--config", str(config)),
        ("deployments", "add", "acme", "--integration", "guide_demo", "--config", str(config)),
    ):
        refused = integrations(*GUIDE, *command)
        assert refused.returncode == 1 and refused.stderr.startswith("error: "), refused.stderr
        assert message in refused.stderr and "Traceback" not in refused.stderr
