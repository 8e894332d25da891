"""A wrong enum value is refused naming the field and listing the values it may take: in
``dagster job execute`` (and the launchpad, which shows Dagster's message), ``integrations
check`` and ``run_integration`` (what ``integrations run`` runs)."""

import os
import subprocess
import sys

import pytest

from integrations_pipeline.common.errors import IntegrationConfigError
from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import PROJECT

SCHEMA = {
    "type": "object",
    "properties": {
        "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
        "stations": {
            "type": "array",
            "items": {"type": "object", "properties": {"kind": {"enum": ["buoy", "tower"]}}},
        },
    },
}

COLLECTOR = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="fetch_weather", type="collector")
def fetch_weather(self, ctx: TaskContext):
    return {"data": {"units": ctx.config["units"]}}
"""


def weather_project(make_project):
    return make_project({"weather_feed": {"schema": SCHEMA, "files": {"collectors/fetch.py": COLLECTOR}}})


def run(*command, project, tmp_path):
    env = {**os.environ, "INTEGRATIONS_PROJECT_DIR": str(project), "DAGSTER_HOME": str(tmp_path)}
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=300)


def test_dagster_job_execute_names_the_field_and_the_allowed_values(make_project, tmp_path):
    project = weather_project(make_project)
    config = tmp_path / "config.yaml"
    config.write_text("resources:\n  weather_feed:\n    config:\n      units: kelvin\n")
    execute = [os.path.join(os.path.dirname(sys.executable), "dagster"), "job", "execute"]
    execute += ["-m", "integrations_pipeline", "-j", "weather_feed", "-c", str(config)]
    out = run(*execute, project=project, tmp_path=tmp_path)
    assert out.returncode != 0
    assert (
        "Value at path root:resources:weather_feed:config:units not in enum type "
        "one of 'metric', 'imperial' got kelvin"
    ) in out.stderr, out.stderr[-3000:]
    config.write_text("resources:\n  weather_feed:\n    config:\n      units: imperial\n")
    ok = run(*execute, project=project, tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]


def test_integrations_check_says_which_values_the_field_takes(make_project, tmp_path):
    project = weather_project(make_project)
    config = tmp_path / "config.yaml"
    config.write_text("units: kelvin\n")
    out = run(sys.executable, "-m", "integrations_pipeline.cli", "--project", str(project), "check",
              "weather_feed", "--config", str(config), project=project, tmp_path=tmp_path)  # fmt: skip
    assert out.returncode == 1
    assert "config field 'units': 'kelvin' is not one of 'metric', 'imperial'" in out.stderr, out.stderr


def test_run_integration_says_which_values_the_field_takes(make_project):
    project = weather_project(make_project)
    with pytest.raises(IntegrationConfigError) as raised:
        run_integration("weather_feed", {"units": "kelvin"}, project=project)
    assert str(raised.value) == (
        "integration 'weather_feed': invalid config: config field 'units': 'kelvin' is not one of "
        "'metric', 'imperial'"
    )
    with pytest.raises(
        IntegrationConfigError, match=r"config field 'stations\.1\.kind': 'ship' is not one of "
    ):
        run_integration("weather_feed", {"stations": [{"kind": "buoy"}, {"kind": "ship"}]}, project=project)
    assert run_integration("weather_feed", {"units": "imperial"}, project=project).success


def test_a_value_of_the_wrong_shape_is_named_as_a_value_or_a_reference():
    # Every string or number field also takes {env: VAR}: Dagster, given a list, says only
    # "must be dict. Expected: { env: String }", as if a plain value were not allowed.
    from dagster._config import process_config, resolve_to_config_type

    from integrations_pipeline.catalog.config_schema import config_error_messages, dagster_config_schema

    schema = {"type": "object", "properties": {"api_key": {"type": "string"}, "count": {"type": "integer"}}}
    config_type = resolve_to_config_type(dagster_config_schema("weather", schema))
    result = process_config(config_type, {"api_key": ["a"], "count": {"x": 1}})
    assert config_error_messages(result.errors) == [
        "config field 'api_key': must be a value of its type or {env: VAR}",
        "config field 'count': must be a value of its type or {env: VAR}",
    ]
