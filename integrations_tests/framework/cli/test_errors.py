"""A user's mistake is one line on stderr, naming the integration, with no traceback and no
secret, and a non-zero exit: whichever command it is given to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from integrations_pipeline.cli.errors import user_error
from integrations_pipeline.common.errors import IntegrationConfigError
from integrations_tests.conftest import PROJECT
from integrations_tests.framework.cli.command import integrations

SECRET = "987654321"


def one_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The error line of a command that failed on a user's mistake."""
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "Traceback" not in output and SECRET not in output, output
    assert completed.stdout == "", output
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: "), line
    return line


@pytest.fixture
def configs(tmp_path: Path) -> dict[str, Path]:
    """Config files of hello_world with one mistake each."""
    files = {
        "missing": "{}\n",
        "wrong_type": "api_key: [a, list]\n",
        "secret_of_wrong_type": f"api_key: {SECRET}\n",
        "unset_env": "api_key: {env: HELLO_WORLD_UNSET_VARIABLE}\n",
        "invalid_yaml": f'api_key: "{SECRET}\n  other: [\n',
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text)
    paths["absent"] = tmp_path / "absent.yaml"
    return paths


def test_run_says_what_is_wrong_with_a_config_in_one_line(configs):
    expected = {
        "missing": 'Missing required config entry "api_key"',
        "wrong_type": "api_key",
        "secret_of_wrong_type": 'Value "***"',
        "unset_env": "environment variable HELLO_WORLD_UNSET_VARIABLE, which is not set",
        "invalid_yaml": "is not valid YAML",
        "absent": "No such file or directory",
    }
    for mistake, words in expected.items():
        line = one_line(integrations("run", "hello_world", "--config", str(configs[mistake])))
        assert "integration 'hello_world'" in line and words in line, (mistake, line)
    set_env = {"HELLO_WORLD_UNSET_VARIABLE": "key-1234"}
    run = ("run", "hello_world", "--config", str(configs["unset_env"]), "--tasks", "nope")
    unknown_task = one_line(integrations(*run, env=set_env))
    assert "'nope', which is not a task of this integration" in unknown_task
    unknown = one_line(integrations("run", "no_such_integration"))
    assert "integration 'no_such_integration': not found" in unknown


def test_check_says_it_in_one_line_too_without_the_secret(configs):
    for mistake in ("secret_of_wrong_type", "invalid_yaml", "unset_env", "missing"):
        line = one_line(integrations("check", "hello_world", "--config", str(configs[mistake])))
        assert line.startswith("error: integration 'hello_world': "), (mistake, line)


def test_deployments_add_says_it_in_one_line(configs):
    for mistake in ("invalid_yaml", "missing", "absent"):
        add = ("deployments", "add", "d1", "--integration", "hello_world", "--config", str(configs[mistake]))
        line = one_line(integrations(*add))
        assert str(configs[mistake]) in line or "'hello_world'" in line, (mistake, line)
    unknown = one_line(integrations("deployments", "add", "d1", "--integration", "no_such_integration"))
    assert "no_such_integration" in unknown
    apply = one_line(integrations("deployments", "apply", str(configs["invalid_yaml"])))
    assert "is not valid YAML" in apply


def test_dagster_errors_around_a_mistake_become_its_line_and_bugs_stay_bugs():
    with pytest.raises(dg.DagsterInvalidConfigError) as invalid:
        dg.materialize([_needs_a_limit], run_config={"ops": {"_needs_a_limit": {"config": {}}}})
    line = user_error(invalid.value)
    assert line is not None and "\n" not in line and 'Missing required config entry "limit"' in line
    with pytest.raises(dg.DagsterResourceFunctionError) as wrapping:
        dg.materialize([_uses_demo], resources={"demo": _refusing})
    wrapped = wrapping.value
    assert user_error(wrapped) == "integration 'demo': config field 'x' is wrong"
    assert user_error(wrapped, integration="demo") == "config field 'x' is wrong"
    assert user_error(RuntimeError("a bug")) is None


@dg.asset(config_schema={"limit": int})
def _needs_a_limit() -> None:
    pass


@dg.resource
def _refusing(_: dg.InitResourceContext) -> None:
    raise IntegrationConfigError("config field 'x' is wrong", integration="demo")


@dg.asset(required_resource_keys={"demo"})
def _uses_demo() -> None:
    pass


def test_list_without_an_integrations_json_fails_in_one_line(tmp_path):
    listed = integrations("--project", str(tmp_path / "nowhere"), "list")
    assert listed.returncode == 1
    assert listed.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere' / 'integrations.json'} not found"
    ]


def test_a_reader_that_goes_away_is_no_traceback():
    # `integrations list | head -1`: the reader is gone before the listing is written.
    shell = f"{sys.executable} -m integrations_pipeline.cli list | true"
    piped = subprocess.run(["bash", "-c", shell], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in piped.stderr and "BrokenPipeError" not in piped.stderr, piped.stderr
