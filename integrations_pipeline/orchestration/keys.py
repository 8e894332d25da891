"""Names in Dagster: an asset per task, a step per task, a dynamic partition per deployment
(plus `adhoc` for hand-made runs)."""

from __future__ import annotations

import dagster as dg


def asset_key(integration: str, task: str) -> dg.AssetKey:
    return dg.AssetKey([integration, task])


def step_key(integration: str, task: str) -> str:
    """The op (and step) name of a task: integration and task names joined by ``__``."""
    return f"{integration}__{task}"


def deployments_partitions(integration: str) -> dg.DynamicPartitionsDefinition:
    """One partition per deployment of ``integration`` (added by the scheduler sensor)."""
    return dg.DynamicPartitionsDefinition(name=f"{integration}_deployments")


def ensure_partition(instance: dg.DagsterInstance | None, integration: str, key: str | None) -> None:
    """Add partition ``key`` (`adhoc`, or a deployment not synced yet) if it is missing."""
    partitions = deployments_partitions(integration).name
    if key and instance is not None and partitions and not instance.has_dynamic_partition(partitions, key):
        instance.add_dynamic_partitions(partitions, [key])
