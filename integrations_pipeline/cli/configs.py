"""An integration's config as commands take it: checked before anything runs, its secrets
kept out of what the command prints."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from integrations_pipeline.common.redaction import register_secrets
from integrations_pipeline.common.variables import lookup

if TYPE_CHECKING:
    from integrations_pipeline.catalog.discovery import Integration


def checked_config(
    integration: Integration, config: Mapping[str, Any], tasks: Iterable[str] | None = None
) -> dict[str, Any]:
    """``config`` (with ``tasks``) as a run would see it, checked as ``integrations check``
    checks it: Dagster's config types, then the JSON Schema, ``{env: VAR}`` references and
    task names. Nothing of the integration runs.

    Raises:
        IntegrationConfigError: what is wrong, in one line that names the integration.
    """
    from integrations_pipeline.catalog.config import check_config_values
    from integrations_pipeline.catalog.config_schema import apply_dagster_schema
    from integrations_pipeline.execution.session import resolve_integration_config

    check_config_values(integration.name, config)  # before recursive code meets a hostile config
    hide_secrets(integration.schema, config)
    values = dict(config)
    if tasks is not None:
        values["tasks"] = list(tasks)
    processed = apply_dagster_schema(integration.name, integration.schema, values)
    resolve_integration_config(integration, processed, unresolved=values)
    return processed


def hide_secrets(schema: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Redact the config's secrets from all this process prints from now on.

    The values of fields the schema marks secret and of every ``{env: VAR}``: a message
    about a secret field of the wrong type would otherwise quote its value.
    """
    from integrations_pipeline.catalog.config import secret_fields

    secrets = [value for _path, field in secret_fields(schema, config) for value in _leaves(field)]
    register_secrets([*secrets, *_leaves(config, env_only=True)])


def _leaves(value: Any, *, env_only: bool = False) -> Iterator[str]:
    """The scalar values inside ``value``, ``{env: VAR}`` read from the environment."""
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            found = lookup(value["env"])
            if found is not None:
                yield found
            return
        for item in value.values():
            yield from _leaves(item, env_only=env_only)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, env_only=env_only)
    elif not env_only and isinstance(value, str | int | float) and not isinstance(value, bool):
        yield str(value)
