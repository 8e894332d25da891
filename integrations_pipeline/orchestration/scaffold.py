"""`dagster job scaffold_config` for the integrations' jobs.

Dagster 1.13's scaffolder (``dagster._cli.config_scaffolder.scaffold_type``) knows neither a
scalar union (a config field that takes a value or ``{env: VAR}``, as every string field of
an integration does, and Dagster's own ``StringSource``) nor ``Float`` (``task_timeout``):
it fails with "Do not know how to scaffold None" or a KeyError. It also ignores defaults, so
what it prints does not run as it is (an empty log level, both executors at once). This
teaches it: a field with a default scaffolds as its default, a union as its scalar, a float
as ``0.0``; every other type is left to Dagster.
"""

from __future__ import annotations

import sys
from typing import Any

_patched = False


def teach_scaffolder() -> None:
    """Make the scaffolder handle scalar unions and floats (once; harmless if it changed).

    Only where ``dagster job scaffold_config`` can run: in a process that imported Dagster's
    command line before the code location (``dagster job ...``). Importing it here would cost
    every other process that loads the code location about 0.15 s.
    """
    global _patched
    config_scaffolder: Any = sys.modules.get("dagster._cli.config_scaffolder")
    if _patched or config_scaffolder is None:
        return
    from dagster._config import ConfigTypeKind

    dagsters = config_scaffolder.scaffold_type

    def scaffold_type(config_type: Any, skip_non_required: bool = True) -> Any:
        if ConfigTypeKind.has_fields(config_type.kind) and config_type.kind != ConfigTypeKind.SELECTOR:
            # A field's default when it has one (the executor, the loggers, the timeouts):
            # Dagster's placeholders for them ('' log level, both executors) do not run.
            return {
                name: field.default_value
                if field.default_provided
                else scaffold_type(field.config_type, skip_non_required)
                for name, field in config_type.fields.items()
                if field.is_required or not skip_non_required
            }
        if config_type.kind == ConfigTypeKind.SCALAR_UNION:
            return scaffold_type(config_type.scalar_type, skip_non_required)
        if config_type.kind == ConfigTypeKind.SCALAR and config_type.given_name == "Float":
            return 0.0
        return dagsters(config_type, skip_non_required)

    # The scaffolder calls itself by its module-level name: nested fields go through this too.
    config_scaffolder.scaffold_type = scaffold_type
    _patched = True
