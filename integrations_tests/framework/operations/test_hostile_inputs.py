"""Deployment fields a user can get wrong in ways a regular expression or a column would not
say: refused with one line naming the field, through the command as a user runs it."""

from datetime import date

import pytest
import yaml

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.operations.deployments import Deployment, DeploymentError, DeploymentStore
from integrations_tests.conftest import case
from integrations_tests.framework.cli.command import integrations

GUIDE_CONFIG = {"api_key": {"env": "GUIDE_DEMO_KEY"}, "region": "eu-west-1"}


@pytest.mark.parametrize("name", ["acme\n", "acme\r", "acme\x00", "a" * 129])
def test_a_name_with_a_trailing_newline_or_control_character_is_refused(database_url, name):
    with pytest.raises(DeploymentError, match="does not fit"):
        DeploymentStore(database_url).add(
            Deployment(name=name, integration="guide_demo", config=GUIDE_CONFIG), load_catalog(case("guide"))
        )
    assert DeploymentStore(database_url).all() == []


def test_a_schedule_longer_than_its_column_is_refused_naming_the_field(database_url):
    every_minute = ",".join(str(m) for m in range(60)) + " * * * *"  # valid cron, 177 characters
    with pytest.raises(DeploymentError, match="field 'schedule' is 177 characters, longer than the 128"):
        DeploymentStore(database_url).add(
            Deployment(name="acme", integration="guide_demo", config=GUIDE_CONFIG, schedule=every_minute),
            load_catalog(case("guide")),
        )


@pytest.mark.usefixtures("database_url")
def test_the_command_refuses_a_name_with_a_trailing_newline(tmp_path):
    config = tmp_path / "acme.yaml"
    config.write_text(yaml.safe_dump(GUIDE_CONFIG))
    refused = integrations(
        "--project", str(case("guide")), "deployments", "add", "acme\n", "--integration", "guide_demo",
        "--config", str(config),
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.startswith("error: deployment name 'acme\\n' does not fit")
    assert "Traceback" not in refused.stderr
    assert integrations("deployments", "list", "--json").stdout.strip() == "[]"


def test_a_yaml_date_in_a_stored_config_is_refused_naming_the_field(database_url):
    # YAML reads `start: 2024-01-01` as a date, which the JSON column refused with its SQL.
    config = {**GUIDE_CONFIG, "start": date(2024, 1, 1)}
    with pytest.raises(DeploymentError, match="config field 'start' is a date, which a stored config cannot"):
        DeploymentStore(database_url).add(
            Deployment(name="acme", integration="guide_demo", config=config), load_catalog(case("guide"))
        )
