"""JSON Schema -> Dagster config, jsonschema enforcement, env references and secrets."""

import dagster as dg
import pytest
from dagster._config import process_config, resolve_to_config_type

from integrations_pipeline.catalog.config import resolve_config
from integrations_pipeline.catalog.config_schema import dagster_config_schema
from integrations_pipeline.common.errors import IntegrationConfigError
from integrations_pipeline.common.redaction import redact

SCHEMA = {
    "type": "object",
    "required": ["api_key", "region"],
    "additionalProperties": False,
    "properties": {
        "api_key": {"type": "string", "writeOnly": True, "description": "The key"},
        "region": {"type": "string", "enum": ["us-east-1", "eu-west-1"], "title": "Region"},
        "retries": {"type": "integer", "default": 3, "minimum": 0},
        "ratio": {"type": "number"},
        "verbose": {"type": "boolean", "default": False},
        "account_id": {"type": "string", "pattern": "^[0-9]{12}$"},
        "nested": {
            "type": "object",
            "properties": {
                "depth": {"type": "integer"},
                "labels": {"type": "array", "items": {"type": "string"}},
            },
        },
        "maybe": {"type": ["string", "null"]},
    },
}


def _process(config):
    config_type = resolve_to_config_type(dagster_config_schema("demo", SCHEMA))
    return process_config(config_type, config)


def test_translation_types_required_defaults_enums_and_descriptions(monkeypatch):
    monkeypatch.setenv("SOME_VAR", "value")
    config_type = resolve_to_config_type(dagster_config_schema("demo", SCHEMA))
    fields = config_type.fields
    assert fields["api_key"].is_required and "Secret" in fields["api_key"].description
    assert fields["region"].config_type.kind == dg._config.ConfigTypeKind.ENUM
    assert fields["retries"].default_value == 3 and not fields["retries"].is_required
    assert fields["nested"].config_type.fields["labels"].config_type.kind == dg._config.ConfigTypeKind.ARRAY
    assert not fields["task_timeout"].is_required and not fields["tasks"].is_required

    ok = _process({"api_key": {"env": "SOME_VAR"}, "region": "eu-west-1", "nested": {"depth": 2}})
    assert ok.success
    assert ok.value["retries"] == 3
    for bad, fragment in [
        ({"region": "eu-west-1"}, "api_key"),
        ({"api_key": "k", "region": "mars"}, "mars"),
        ({"api_key": "k", "region": "eu-west-1", "retries": "three"}, "retries"),
        ({"api_key": "k", "region": "eu-west-1", "unknown": 1}, "unknown"),
    ]:
        result = _process(bad)
        assert not result.success
        assert fragment in str([e.message for e in result.errors])


def test_jsonschema_constraints_are_enforced_naming_the_field():
    with pytest.raises(IntegrationConfigError, match=r"config field 'account_id': '123' does not match"):
        resolve_config("demo", SCHEMA, {"api_key": "k" * 8, "region": "eu-west-1", "account_id": "123"})
    with pytest.raises(IntegrationConfigError, match=r"config field 'retries': -1 is less than the minimum"):
        resolve_config("demo", SCHEMA, {"api_key": "k" * 8, "region": "eu-west-1", "retries": -1})
    with pytest.raises(
        IntegrationConfigError, match="config field 'region': 'region' is a required property"
    ):
        resolve_config("demo", SCHEMA, {"api_key": "k" * 8})


def test_common_keys_are_split_off_and_checked():
    resolved = resolve_config(
        "demo",
        SCHEMA,
        {"api_key": "k" * 8, "region": "eu-west-1", "task_timeout": 2, "tasks": ["a"]},
    )
    assert resolved.task_timeout == 2 and resolved.tasks == ("a",)
    assert "task_timeout" not in resolved.values
    with pytest.raises(IntegrationConfigError, match="'task_timeout' must be a positive number"):
        resolve_config("demo", SCHEMA, {"api_key": "k" * 8, "region": "eu-west-1", "task_timeout": 0})


def test_secret_values_are_collected_and_never_echoed(monkeypatch):
    monkeypatch.setenv("DEMO_KEY", "s3cr3t-value-from-env")
    monkeypatch.setenv("DEMO_ACCOUNT", "not-twelve-digits")
    resolved = resolve_config("demo", SCHEMA, {"api_key": {"env": "DEMO_KEY"}, "region": "us-east-1"})
    assert resolved.values["api_key"] == "s3cr3t-value-from-env"
    assert "s3cr3t-value-from-env" in resolved.secrets
    assert redact("key=s3cr3t-value-from-env!", resolved.secrets) == "key=***!"
    # A value from an env reference is a secret even when the schema does not mark it.
    with pytest.raises(IntegrationConfigError) as raised:
        resolve_config(
            "demo",
            SCHEMA,
            {"api_key": "x" * 8, "region": "us-east-1", "account_id": {"env": "DEMO_ACCOUNT"}},
        )
    assert "not-twelve-digits" not in str(raised.value)
    assert "account_id" in str(raised.value)


def test_unset_environment_variable_is_named(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(
        IntegrationConfigError, match="environment variable NOT_SET_ANYWHERE, which is not set"
    ):
        resolve_config("demo", SCHEMA, {"api_key": {"env": "NOT_SET_ANYWHERE"}, "region": "us-east-1"})


def test_a_secret_is_also_collected_in_the_forms_a_url_gives_it():
    resolved = resolve_config("demo", SCHEMA, {"api_key": "b64/key+pad==", "region": "us-east-1"})
    assert redact("GET /items?key=b64%2Fkey%2Bpad%3D%3D", resolved.secrets) == "GET /items?key=***"
