"""An integration's JSON Schema translated into Dagster's config schema.

The Dagster schema lets the launchpad show and type-check the config (every string also
accepts ``{env: VAR}``); the whole JSON Schema is then enforced with jsonschema before any
task runs (:mod:`integrations_pipeline.catalog.config`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from integrations_pipeline.catalog import validity_cache
from integrations_pipeline.catalog.config import (
    DEFAULT_STAGE_ONE_TIMEOUT,
    DEFAULT_TASK_TIMEOUT,
    is_secret_field,
    not_one_of,
)
from integrations_pipeline.common.errors import IntegrationConfigError, IntegrationLoadError

# The keys every integration's config takes besides its own (see catalog.config).
COMMON_FIELDS: dict[str, tuple[Any, str]] = {
    "task_timeout": (
        dg.Float,
        f"Seconds each task may run before it fails with a timeout (default {DEFAULT_TASK_TIMEOUT:g}).",
    ),
    "stage_one_timeout": (
        dg.Float,
        "Seconds StageOne (authentication) may run before the run fails with a timeout "
        f"(default {DEFAULT_STAGE_ONE_TIMEOUT:g}).",
    ),
    "tasks": ([str], "Names of the only tasks to run; absent or empty runs all enabled tasks."),
}
# Shown by the launchpad and `dagster job scaffold_config`, and what a run gets without them.
COMMON_DEFAULTS: dict[str, Any] = {
    "task_timeout": DEFAULT_TASK_TIMEOUT,
    "stage_one_timeout": DEFAULT_STAGE_ONE_TIMEOUT,
}


def dagster_config_schema(integration: str, schema: Mapping[str, Any]) -> Any:
    """The Dagster config type of an integration: its JSON Schema plus the common keys."""
    translated = _translate_object(integration, schema, path=())
    fields = dict(translated.fields)
    for key, (config_type, description) in COMMON_FIELDS.items():
        default = COMMON_DEFAULTS.get(key)
        extra = {"default_value": default} if default is not None else {}
        fields.setdefault(key, dg.Field(config_type, is_required=False, description=description, **extra))
    return type(translated)(fields)


def _describe(schema: Mapping[str, Any]) -> str | None:
    parts = [str(schema[k]) for k in ("title", "description") if schema.get(k)]
    if is_secret_field(schema):
        parts.append("Secret: pass it as {env: VAR}.")
    return " - ".join(parts) or None


def _translate_object(integration: str, schema: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    fields = {
        key: _field(integration, sub, (*path, key), required=key in required)
        for key, sub in properties.items()
        if isinstance(sub, Mapping)
    }
    if schema.get("additionalProperties", True) is not False:
        return dg.Permissive(fields)
    return dg.Shape(fields)


def _field(integration: str, schema: Mapping[str, Any], path: tuple[str, ...], *, required: bool) -> dg.Field:
    config_type = _translate(integration, schema, path)
    if "default" in schema:
        _check_default(integration, schema, path)
    kwargs: dict[str, Any] = {"description": _describe(schema)}
    if "default" in schema and _default_fits(config_type, schema["default"]):
        kwargs["default_value"] = schema["default"]
        kwargs["is_required"] = False
    else:
        kwargs["is_required"] = required
    return dg.Field(config_type, **kwargs)


def _check_default(integration: str, schema: Mapping[str, Any], path: tuple[str, ...]) -> None:
    key = validity_cache.digest("default", schema)
    if validity_cache.is_known_valid(key):
        return
    import jsonschema
    from jsonschema.exceptions import best_match

    field_schema = {k: v for k, v in schema.items() if k != "default"}
    validator = jsonschema.validators.validator_for(field_schema)(field_schema)
    error = best_match(validator.iter_errors(schema["default"]))
    if error is None:
        validity_cache.remember_valid(key)
    else:
        raise IntegrationLoadError(
            f"JSON Schema default of config field '{'.'.join(path)}' does not satisfy its own "
            f"schema: {error.message}",
            integration=integration,
        )


def _default_fits(config_type: Any, default: Any) -> bool:
    # A null default only fits a nullable Dagster type; the field is then left optional.
    return default is not None or isinstance(config_type, dg.Noneable)


def _or_env(scalar: Any) -> dg.ScalarUnion:
    # Like Dagster's StringSource, but the run resolves {env: VAR} itself (resolve_config):
    # an unset variable then fails that run, naming the field, instead of failing the
    # planning of the run (and with it a whole sensor tick) in the code server.
    return dg.ScalarUnion(scalar_type=scalar, non_scalar_schema=dg.Shape({"env": dg.String}))


_SCALARS: dict[str, Any] = {
    "string": _or_env(dg.String),
    "integer": _or_env(dg.Int),
    "number": _or_env(dg.Float),
    "boolean": _or_env(dg.Bool),
}


def _translate(integration: str, schema: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    json_type = schema.get("type")
    if isinstance(json_type, list):
        non_null = [t for t in json_type if t != "null"]
        inner = (
            _translate(integration, {**schema, "type": non_null[0]}, path) if len(non_null) == 1 else dg.Any
        )
        return dg.Noneable(inner) if "null" in json_type else inner
    if "enum" in schema and json_type in (None, "string") and _all_strings(schema["enum"]):
        return dg.Enum(_enum_name(schema["enum"]), [dg.EnumValue(value) for value in schema["enum"]])
    if json_type == "object":
        return _translate_object(integration, schema, path)
    if json_type == "array":
        items = schema.get("items")
        inner = _translate(integration, items, (*path, "item")) if isinstance(items, Mapping) else dg.Any
        return dg.Array(inner)
    return _SCALARS.get(json_type, dg.Any) if isinstance(json_type, str) else dg.Any


def _all_strings(values: Iterable[Any]) -> bool:
    return all(isinstance(v, str) for v in values)


# An enum's name is what Dagster's own error shows (launchpad, `dagster job execute`):
# "Value at path root:...:units not in enum type one of 'metric', 'imperial' got kelvin".
MAX_ENUM_NAME = 120


def _enum_name(values: Iterable[str]) -> str:
    # Dagster keys config types by name: the same name must always mean the same values.
    # The listed values are the name; a long list is cut and told apart by a digest.
    values = list(values)
    name = f"one of {', '.join(repr(value) for value in values)}"
    if len(name) <= MAX_ENUM_NAME:
        return name
    digest = hashlib.sha1("\x1f".join(values).encode()).hexdigest()[:8]
    return f"{name[:MAX_ENUM_NAME].rsplit(', ', 1)[0]}, ... ({len(values)} values, {digest})"


def config_error_messages(errors: Iterable[Any]) -> list[str]:
    """Dagster's config errors as this project words them: a wrong enum value as
    ``config field 'units': 'kelvin' is not one of 'metric', 'imperial'``, the others as
    Dagster says them."""
    from dagster._config import ConfigTypeKind
    from dagster._config.errors import RuntimeMismatchErrorData

    messages = []
    for error in errors:
        data = error.error_data
        snap = getattr(data, "config_type_snap", None)
        if (
            isinstance(data, RuntimeMismatchErrorData)
            and snap is not None
            and snap.kind == ConfigTypeKind.ENUM
        ):
            allowed = [value.value for value in snap.enum_values or ()]
            messages.append(
                f"config field '{_field_path(error.stack)}': {data.value_rep} {not_one_of(allowed)}"
            )
        elif _about_env_reference(error):
            # Dagster tried the {env: VAR} half of a value-or-reference field and says only that.
            messages.append(
                f"config field '{_field_path(error.stack)}': must be a value of its type or {{env: VAR}}"
            )
        else:
            messages.append(error.message)
    return list(dict.fromkeys(messages))


def _about_env_reference(error: Any) -> bool:
    """Whether a config error is Dagster matching a value against the ``{env: VAR}`` shape."""
    from dagster._config.errors import MissingFieldErrorData, RuntimeMismatchErrorData

    data = error.error_data
    snap = getattr(data, "config_type_snap", None)
    if isinstance(data, RuntimeMismatchErrorData) and snap is not None:
        return [field.name for field in snap.fields or ()] == ["env"]
    if isinstance(data, MissingFieldErrorData):
        return data.field_name == "env"
    return 'Expected: "{ env: String }"' in str(error.message)


def _field_path(stack: Any) -> str:
    """The dotted path of a field in an integration's config, from a Dagster error's stack
    (which may start at the run config: ``resources.<integration>.config``)."""
    from dagster._config.stack import EvaluationStackListItemEntry, EvaluationStackPathEntry

    parts = [
        str(entry.field_name if isinstance(entry, EvaluationStackPathEntry) else entry.list_index)
        for entry in stack.entries
        if isinstance(entry, EvaluationStackPathEntry | EvaluationStackListItemEntry)
    ]
    if len(parts) >= 3 and parts[0] == "resources" and parts[2] == "config":
        parts = parts[3:]
    return ".".join(parts) or "(root)"


def apply_dagster_schema(
    integration: str, schema: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """``config`` as a Dagster run would see it: types checked, defaults filled, env resolved."""
    from dagster._config import process_config, resolve_to_config_type

    result = process_config(resolve_to_config_type(dagster_config_schema(integration, schema)), dict(config))
    if not result.success:
        problems = "; ".join(config_error_messages(result.errors or []))
        raise IntegrationConfigError(f"invalid config: {problems}", integration=integration)
    return dict(result.value or {})
