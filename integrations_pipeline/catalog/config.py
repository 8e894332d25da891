"""An integration's config: validation against its JSON Schema, and the secrets in it.

The whole JSON Schema is enforced with jsonschema before any task runs (jsonschema is
imported then, not when the code location loads). Values that came from environment
variables or that the schema marks secret (``writeOnly: true`` or ``format: password``)
are collected so they can be redacted. Dagster's view of the schema is in
:mod:`integrations_pipeline.catalog.config_schema`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations_pipeline.catalog import validity_cache
from integrations_pipeline.common.errors import IntegrationConfigError
from integrations_pipeline.common.redaction import MIN_SECRET_LENGTH, redact, secret_forms
from integrations_pipeline.common.variables import lookup, where_to_set

COMMON_KEYS = ("task_timeout", "stage_one_timeout", "tasks")
# A config is a handful of levels deep; far deeper is hostile, and recursive code (Dagster's
# config checks, jsonschema) would end in a RecursionError.
MAX_CONFIG_DEPTH = 64
DEFAULT_TASK_TIMEOUT = 900.0
DEFAULT_STAGE_ONE_TIMEOUT = 60.0


def is_secret_field(schema: Mapping[str, Any]) -> bool:
    """The marker for secret fields: ``"writeOnly": true`` or ``"format": "password"``."""
    return schema.get("writeOnly") is True or schema.get("format") == "password"


def not_one_of(allowed: Iterable[Any]) -> str:
    """``is not one of 'metric', 'imperial'``: how a wrong enum value is described."""
    return f"is not one of {', '.join(repr(value) for value in allowed)}"


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """What makes ``schema`` an invalid JSON Schema (``at <path>: <why>``), or None.

    A schema found valid once is not checked again (see :mod:`.validity_cache`).
    """
    key = validity_cache.digest("schema", schema)
    if validity_cache.is_known_valid(key):
        return None
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"at {where}: {error.message}"
    validity_cache.remember_valid(key)
    return None


@dataclass(frozen=True)
class ResolvedConfig:
    """A run's config split into the integration's own keys and the common keys."""

    values: dict[str, Any]
    tasks: tuple[str, ...]
    task_timeout: float
    secrets: frozenset[str]
    # Secret fields given as literal values (stored with the run) instead of {env: VAR}.
    literal_secrets: bool = False
    stage_one_timeout: float = DEFAULT_STAGE_ONE_TIMEOUT


def check_config_values(integration: str, config: Any, *, stored: bool = False) -> None:
    """Refuse what no check of a config can take: nesting deeper than :data:`MAX_CONFIG_DEPTH`,
    numbers beyond a float's range (``10**400``) and NaN or infinities; the error names the field.
    ``stored``: the config is saved as JSON, so only JSON's types (YAML's dates are not).
    """
    pending: list[tuple[Any, str, int]] = [(config, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        where = path or "(root)"
        if depth > MAX_CONFIG_DEPTH:
            shown = where if len(where) <= 100 else f"{where[:60]}…{where[-30:]}"
            raise IntegrationConfigError(
                f"config field '{shown}' is nested deeper than {MAX_CONFIG_DEPTH} levels",
                integration=integration,
            )
        if isinstance(value, Mapping):
            pending.extend(
                (item, f"{path}.{key}" if path else str(key), depth + 1) for key, item in value.items()
            )
        elif isinstance(value, list | tuple):
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1024:
            digits = int(value.bit_length() * math.log10(2)) + 1  # str() refuses 4,300 digits
            raise IntegrationConfigError(
                f"config field '{where}' is an integer of about {digits} digits, too large for a number",
                integration=integration,
            )
        elif isinstance(value, float) and not math.isfinite(value):
            raise IntegrationConfigError(
                f"config field '{where}' is {value!r}, which is not a number a config can hold",
                integration=integration,
            )
        elif stored and not (value is None or isinstance(value, str | int | float)):
            raise IntegrationConfigError(
                f"config field '{where}' is a {type(value).__name__}, which a stored config "
                "cannot hold: quote it in YAML to keep it as text",
                integration=integration,
            )


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
    check_config_values(integration, config)
    values = _resolve_env(integration, dict(config))
    schema_secrets = set(_secret_values(schema, values))
    env_values = set(_env_values(unresolved if unresolved is not None else config, values))
    secrets = schema_secrets | env_values
    common = _pop_common(integration, values)
    _validate_schema(integration, schema, values, frozenset(secrets))
    return ResolvedConfig(
        values=values,
        tasks=tuple(common["tasks"] or ()),
        task_timeout=float(common["task_timeout"] or DEFAULT_TASK_TIMEOUT),
        stage_one_timeout=float(common["stage_one_timeout"] or DEFAULT_STAGE_ONE_TIMEOUT),
        secrets=frozenset(form for s in secrets if len(s) >= MIN_SECRET_LENGTH for form in secret_forms(s)),
        literal_secrets=bool(schema_secrets - env_values),
    )


def _resolve_env(integration: str, value: Any, path: str = "") -> Any:
    if isinstance(value, Mapping):
        if _is_env_reference(value):
            name = value["env"]
            found = lookup(name)
            if found is None:
                raise IntegrationConfigError(
                    f"config field '{path}' refers to environment variable {name}, which is not set "
                    f"(set it in {where_to_set(name)})",
                    integration=integration,
                )
            return found
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
    check_config_values(integration, config, stored=True)
    literal = literal_secret_fields(schema, config)
    if literal:
        raise IntegrationConfigError(
            f"config field '{literal[0]}' is secret: store it as {{env: VAR}}, not as a literal value",
            integration=integration,
        )
    unset: list[tuple[str, ...]] = []
    values = _substitute_env(config, (), unset)
    _pop_common(integration, values)
    import jsonschema

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
            form
            for v in _env_references(config)
            if (found := lookup(v["env"])) is not None
            for form in secret_forms(found)  # escaped too: the message quotes the value's repr
        )
        raise IntegrationConfigError(
            f"config field '{'.'.join(path) or '(root)'}': {redact(_error_message(error), env_values)}",
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
                if lookup(item["env"]) is None:
                    unset.append((*path, str(key)))
                    continue
                result[key] = lookup(item["env"])
                continue
            result[key] = _substitute_env(item, (*path, str(key)), unset)
        return result
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            if _is_env_reference(item):
                if lookup(item["env"]) is None:
                    unset.append((*path, str(index)))
                    continue
                items.append(lookup(item["env"]))
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


def _pop_common(integration: str, values: dict[str, Any]) -> dict[str, Any]:
    """Take the common keys out of ``values``, checked; absent ones are None."""
    common = {key: values.pop(key, None) for key in COMMON_KEYS}
    for key in ("task_timeout", "stage_one_timeout"):
        limit = common[key]
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not math.isfinite(limit)
            or limit <= 0
        ):
            raise IntegrationConfigError(
                f"config field '{key}' must be a positive number of seconds, got {limit!r}",
                integration=integration,
            )
    tasks = common["tasks"] or ()
    if not isinstance(tasks, list | tuple) or not all(isinstance(t, str) for t in tasks):
        raise IntegrationConfigError(
            "config field 'tasks' must be a list of task names", integration=integration
        )
    return common


def _validate_schema(
    integration: str, schema: Mapping[str, Any], values: dict[str, Any], secrets: frozenset[str]
) -> None:
    import jsonschema
    from jsonschema.exceptions import best_match

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
    message = _error_message(error)
    hidden = is_secret_field(error.schema) or (isinstance(error.instance, str) and error.instance in secrets)
    if hidden:
        message = f"does not satisfy '{error.validator}' (value hidden: secret)"
    raise IntegrationConfigError(
        f"config field '{field}': {redact(message, secrets)}", integration=integration
    )


def _error_message(error: Any) -> str:
    """What a jsonschema error says, a wrong enum value with the values it may take."""
    if error.validator == "enum" and isinstance(error.validator_value, list):
        return f"{error.instance!r} {not_one_of(error.validator_value)}"
    return str(error.message)
