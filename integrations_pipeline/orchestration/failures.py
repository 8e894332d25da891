"""Runs that would fail the same way again: a broken integration's job, and the tag that keeps
Dagster's run retries away from a deterministic failure (no `from __future__ import
annotations` here either: Dagster reads the op's annotations)."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from integrations_pipeline.catalog.config_schema import dagster_config_schema
from integrations_pipeline.catalog.discovery import LoadProblem
from integrations_pipeline.common.runs import INTEGRATION_TAG

MAX_RETRIES_TAG = "dagster/max_retries"


def never_retry(instance: dg.DagsterInstance | None, run: dg.DagsterRun | None) -> None:
    """Tag ``run`` so that Dagster's run retries leave it: its failure is deterministic."""
    if instance is not None and run is not None:
        instance.add_run_tags(run.run_id, {MAX_RETRIES_TAG: "0"})


def broken_job(name: str, problems: list[LoadProblem], schema: Any) -> dg.JobDefinition:
    """A job that fails with the integration's load error, whatever config it is given.

    It takes the integration's own config shape (so a deployment's run config, or the one a
    launchpad holds, is accepted and the run reports the load error, not a config mismatch),
    or any config if even the schema cannot be translated.
    """
    summary = "; ".join(p.message for p in problems)
    try:
        config_schema = dagster_config_schema(name, schema if isinstance(schema, Mapping) else {})
    except Exception:
        config_schema = dg.Permissive()
    stage_one = dg.ResourceDefinition(
        resource_fn=lambda _: None,
        config_schema=dg.Field(config_schema, is_required=False),
        description=f"StageOne of '{name}' (not loaded).",
    )

    @dg.op(
        name=f"{name}__load_error",
        description=f"Integration '{name}' failed to load.",
        required_resource_keys={name},
    )
    def load_error(context: dg.OpExecutionContext) -> None:
        never_retry(context.instance, context.run)  # it fails to load again until it is fixed
        raise dg.Failure(description=f"integration '{name}' failed to load: {summary}")

    @dg.job(
        name=name,
        description=f"BROKEN: {summary}",
        tags={INTEGRATION_TAG: name},
        resource_defs={name: stage_one},
    )
    def broken() -> None:
        load_error()

    return broken
