"""An integration's config: JSON Schema -> Dagster config schema, validation and secrets.

The Dagster schema lets the launchpad show and type-check the config (every string also
accepts ``{env: VAR}``); the whole JSON Schema is then enforced with jsonschema before any
task runs. Values that came from environment variables or that the schema marks secret
(``writeOnly: true`` or ``format: password``) are collected so they can be redacted.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import dagster as dg
import jsonschema
from jsonschema.exceptions import best_match

from integrations_pipeline.errors import IntegrationConfigError, IntegrationLoadError

COMMON_KEYS = ("task_timeout", "tasks")
DEFAULT_TASK_TIMEOUT = 900.0
REDACTED = "***"
# Shorter secrets would redact ordinary words; no real credential is this short.
MIN_SECRET_LENGTH = 4
# Characters a query keeps as they are when a URL is given whole (RFC 3986), as httpx keeps them.
_QUERY_SAFE = "!$&'()*+,;=:@/?~"


def secret_forms(secret: str) -> set[str]:
    """``secret`` and the forms it takes inside a URL, as log lines show URLs: a key with
    ``/``, ``+`` or ``=`` (base64) is percent-encoded as a query parameter. For most secrets
    this is the secret alone."""
    return {secret, quote_plus(secret), quote(secret, safe=""), quote(secret, safe=_QUERY_SAFE)}


def is_secret_field(schema: Mapping[str, Any]) -> bool:
    """The marker for secret fields: ``"writeOnly": true`` or ``"format": "password"``."""
    return schema.get("writeOnly") is True or schema.get("format") == "password"


def dagster_config_schema(integration: str, schema: Mapping[str, Any]) -> Any:
    """The Dagster config type of an integration: its JSON Schema plus the common keys."""
    translated = _translate_object(integration, schema, path=())
    fields = dict(translated.fields)
    if "task_timeout" not in fields:
        fields["task_timeout"] = dg.Field(
            dg.Float,
            is_required=False,
            description=(
                "Seconds each task may run before it fails with a timeout "
                f"(default {DEFAULT_TASK_TIMEOUT:g})."
            ),
        )
    if "tasks" not in fields:
        fields["tasks"] = dg.Field(
            [str],
            is_required=False,
            description="Names of the only tasks to run; absent or empty runs all enabled tasks.",
        )
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
    field_schema = {k: v for k, v in schema.items() if k != "default"}
    validator = jsonschema.validators.validator_for(field_schema)(field_schema)
    error = best_match(validator.iter_errors(schema["default"]))
    if error is not None:
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
        return dg.Enum(
            _enum_name(integration, path),
            [dg.EnumValue(value) for value in schema["enum"]],
        )
    if json_type == "object":
        return _translate_object(integration, schema, path)
    if json_type == "array":
        items = schema.get("items")
        inner = _translate(integration, items, (*path, "item")) if isinstance(items, Mapping) else dg.Any
        return dg.Array(inner)
    return _SCALARS.get(json_type, dg.Any) if isinstance(json_type, str) else dg.Any


def _all_strings(values: Iterable[Any]) -> bool:
    return all(isinstance(v, str) for v in values)


def _enum_name(integration: str, path: tuple[str, ...]) -> str:
    # Dagster enum type names are global to the code location: readable, and made unique
    # by a digest of the exact path (so `a_b.c` and `a.b_c` never share one).
    readable = re.sub(r"[^A-Za-z0-9_]", "_", "__".join((integration, *path)))
    digest = hashlib.sha1("\x1f".join((integration, *path)).encode()).hexdigest()[:8]
    return f"{readable}_{digest}"


@dataclass(frozen=True)
class ResolvedConfig:
    """A run's config split into the integration's own keys and the common keys."""

    values: dict[str, Any]
    tasks: tuple[str, ...]
    task_timeout: float
    secrets: frozenset[str]
    # Secret fields given as literal values (stored with the run) instead of {env: VAR}.
    literal_secrets: bool = False


def resolve_config(
    integration: str,
    schema: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    unresolved: Mapping[str, Any] | None = None,
) -> ResolvedConfig:
    """Split off the common keys, enforce the JSON Schema and collect the secret values.

    ``config`` has environment references already resolved (as Dagster gives it);
    ``unresolved`` is the same config as written, to tell which values came from
    ``{env: VAR}``. A config given here with ``{env: VAR}`` still unresolved is resolved.
    """
    values = _resolve_env(integration, dict(config))
    schema_secrets = set(_secret_values(schema, values))
    env_values = set(_env_values(unresolved if unresolved is not None else config, values))
    secrets = schema_secrets | env_values
    task_timeout = values.pop("task_timeout", None)
    tasks = values.pop("tasks", None) or ()
    _validate_common(integration, task_timeout, tasks)
    _validate_schema(integration, schema, values, frozenset(secrets))
    return ResolvedConfig(
        values=values,
        tasks=tuple(tasks),
        task_timeout=float(task_timeout) if task_timeout is not None else DEFAULT_TASK_TIMEOUT,
        secrets=frozenset(form for s in secrets if len(s) >= MIN_SECRET_LENGTH for form in secret_forms(s)),
        literal_secrets=bool(schema_secrets - env_values),
    )


def _resolve_env(integration: str, value: Any, path: str = "") -> Any:
    if isinstance(value, Mapping):
        if _is_env_reference(value):
            name = value["env"]
            if name not in os.environ:
                raise IntegrationConfigError(
                    f"config field '{path}' refers to environment variable {name}, which is not set",
                    integration=integration,
                )
            return os.environ[name]
        return {k: _resolve_env(integration, v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(integration, v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _env_values(unresolved: Any, resolved: Any) -> Iterable[str]:
    if isinstance(unresolved, Mapping):
        if set(unresolved) == {"env"} and isinstance(resolved, str | int | float | bool):
            yield str(resolved)
            return
        if isinstance(resolved, Mapping):
            for key, sub in unresolved.items():
                if key in resolved:
                    yield from _env_values(sub, resolved[key])
    elif isinstance(unresolved, list) and isinstance(resolved, list):
        for sub_u, sub_r in zip(unresolved, resolved, strict=False):
            yield from _env_values(sub_u, sub_r)


def _secret_values(schema: Mapping[str, Any], value: Any) -> Iterable[str]:
    for _path, secret in secret_fields(schema, value):
        if isinstance(secret, Mapping | list):
            yield from (str(v) for v in _leaves(secret))
        elif isinstance(secret, str | int | float) and not isinstance(secret, bool):
            yield str(secret)


def secret_fields(
    schema: Mapping[str, Any],
    value: Any,
    root: Mapping[str, Any] | None = None,
    path: tuple[str, ...] = (),
    depth: int = 0,
) -> Iterable[tuple[tuple[str, ...], Any]]:
    """(path, value) of every field of ``value`` that ``schema`` marks secret.

    Follows local ``$ref``, ``allOf``/``anyOf``/``oneOf``, ``properties``,
    ``additionalProperties`` and ``items``.
    """
    root = root if root is not None else schema
    if depth > 32:  # a recursive $ref: stop rather than loop
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        if isinstance(target, Mapping):
            yield from secret_fields(target, value, root, path, depth + 1)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub_schema in schema.get(keyword) or ():
            if isinstance(sub_schema, Mapping):
                yield from secret_fields(sub_schema, value, root, path, depth + 1)
    if is_secret_field(schema):
        yield path, value
    if isinstance(value, Mapping) and not _is_env_reference(value):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub_schema = properties.get(key, extra if key not in properties else None)
            if isinstance(sub_schema, Mapping):
                yield from secret_fields(sub_schema, item, root, (*path, str(key)), depth + 1)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from secret_fields(schema["items"], item, root, (*path, str(index)), depth + 1)


def _is_env_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str)


def literal_secret_fields(schema: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Dotted paths of secret fields given as literal values instead of ``{env: VAR}``."""
    return sorted(
        ".".join(path)
        for path, value in secret_fields(schema, config)
        if value is not None and not _is_env_reference(value)
    )


def check_stored_config(integration: str, schema: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Validate a config that is stored to run later (a deployment's).

    Secret fields must be ``{env: VAR}`` references. Fields whose variable is not set on
    this machine are checked when the run starts; everything else is checked now.
    """
    literal = literal_secret_fields(schema, config)
    if literal:
        raise IntegrationConfigError(
            f"config field '{literal[0]}' is secret: store it as {{env: VAR}}, not as a literal value",
            integration=integration,
        )
    unset: list[tuple[str, ...]] = []
    values = _substitute_env(config, (), unset)
    task_timeout = values.pop("task_timeout", None)
    tasks = values.pop("tasks", None) or ()
    _validate_common(integration, task_timeout, tasks)
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    for error in validator.iter_errors(values):
        path = tuple(str(p) for p in error.absolute_path)
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        if error.validator == "required" and missing:
            path = (*path, missing.group(1))
        if any(path[: len(u)] == u for u in unset):
            continue
        env_values = frozenset(
            os.environ[v["env"]] for v in _env_references(config) if v["env"] in os.environ
        )
        raise IntegrationConfigError(
            f"config field '{'.'.join(path) or '(root)'}': {redact(error.message, env_values)}",
            integration=integration,
        )


def _env_references(value: Any) -> Iterable[Mapping[str, str]]:
    if _is_env_reference(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _env_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _env_references(item)


def _substitute_env(value: Any, path: tuple[str, ...], unset: list[tuple[str, ...]]) -> Any:
    """``value`` with set env references resolved and unset ones left out (paths in ``unset``)."""
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if _is_env_reference(item):
                if item["env"] not in os.environ:
                    unset.append((*path, str(key)))
                    continue
                result[key] = os.environ[item["env"]]
                continue
            result[key] = _substitute_env(item, (*path, str(key)), unset)
        return result
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            if _is_env_reference(item):
                if item["env"] not in os.environ:
                    unset.append((*path, str(index)))
                    continue
                items.append(os.environ[item["env"]])
            else:
                items.append(_substitute_env(item, (*path, str(index)), unset))
        return items
    return value


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield value


def _validate_common(integration: str, task_timeout: Any, tasks: Any) -> None:
    if task_timeout is not None and (
        isinstance(task_timeout, bool)
        or not isinstance(task_timeout, int | float)
        or not math.isfinite(task_timeout)
        or task_timeout <= 0
    ):
        raise IntegrationConfigError(
            f"config field 'task_timeout' must be a positive number of seconds, got {task_timeout!r}",
            integration=integration,
        )
    if not isinstance(tasks, list | tuple) or not all(isinstance(t, str) for t in tasks):
        raise IntegrationConfigError(
            "config field 'tasks' must be a list of task names", integration=integration
        )


def _validate_schema(
    integration: str, schema: Mapping[str, Any], values: dict[str, Any], secrets: frozenset[str]
) -> None:
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    error = best_match(validator.iter_errors(values))
    if error is None:
        return
    path = [str(p) for p in error.absolute_path]
    missing = re.match(r"^'(.+)' is a required property$", error.message)
    if error.validator == "required" and missing:
        path.append(missing.group(1))
    field = ".".join(path) or "(root)"
    message = error.message
    hidden = is_secret_field(error.schema) or (isinstance(error.instance, str) and error.instance in secrets)
    if hidden:
        message = f"does not satisfy '{error.validator}' (value hidden: secret)"
    raise IntegrationConfigError(
        f"config field '{field}': {redact(message, secrets)}", integration=integration
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in ``text`` by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_value(value: Any, secrets: frozenset[str]) -> Any:
    """``redact`` applied to every string inside a JSON-like value.

    Copy-on-write: containers without a secret are returned as they are, so a large
    result costs one walk and no copy.
    """
    if not secrets:
        return value
    ordered = sorted(secrets, key=len, reverse=True)
    if not isinstance(value, str):
        # One scan of the pickled value (its strings are stored as UTF-8) is 5x faster than a
        # walk, and most results hold no secret.
        try:
            pickled = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            pickled = None
        if pickled is not None and not any(
            secret.encode("utf-8", "surrogatepass") in pickled for secret in ordered
        ):
            return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            for secret in ordered:
                if secret in item:
                    return redact(item, ordered)
            return item
        if isinstance(item, Mapping):
            copy: dict[Any, Any] | None = None
            for n, (key, old) in enumerate(item.items()):
                new_key, new = walk(key), walk(old)
                if copy is None and (new_key is not key or new is not old):
                    copy = dict(list(item.items())[:n])
                if copy is not None:
                    copy[new_key] = new
            return item if copy is None else copy
        if isinstance(item, list | tuple):
            changed: list[Any] | None = None
            for n, old in enumerate(item):
                new = walk(old)
                if changed is None and new is not old:
                    changed = list(item[:n])
                if changed is not None:
                    changed.append(new)
            return item if changed is None else changed
        return item

    return walk(value)


def apply_dagster_schema(
    integration: str, schema: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """``config`` as a Dagster run would see it: types checked, defaults filled, env resolved."""
    from dagster._config import process_config, resolve_to_config_type

    result = process_config(resolve_to_config_type(dagster_config_schema(integration, schema)), dict(config))
    if not result.success:
        problems = "; ".join(error.message for error in result.errors or [])
        raise IntegrationConfigError(f"invalid config: {problems}", integration=integration)
    return dict(result.value or {})
