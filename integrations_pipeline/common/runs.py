"""The tags a run carries, and what they say about it. Used by every stage that reads runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

INTEGRATION_TAG = "integration"
DEPLOYMENT_TAG = "deployment"
PARTITION_TAG = "dagster/partition"
TRIGGER_TAG = "integrations/trigger"  # schedule or manual
SLOT_TAG = "integrations/slot"  # the cron slot a scheduled run is for
# Runs without a deployment (run config given by hand) are the `adhoc` partition: Dagster
# cannot run partitioned asset checks without a partition.
ADHOC_PARTITION = "adhoc"


def deployment_of(run: dg.DagsterRun) -> str | None:
    """The deployment a run belongs to: its `deployment` tag, or its partition."""
    partition = run.tags.get(PARTITION_TAG)
    return run.tags.get(DEPLOYMENT_TAG) or (partition if partition != ADHOC_PARTITION else None)


def integration_of(run: dg.DagsterRun) -> str:
    """The integration a run belongs to: its `integration` tag, or its job's name."""
    return run.tags.get(INTEGRATION_TAG) or run.job_name
