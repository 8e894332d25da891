"""Backpressure: the queue holds at most one scheduled run per deployment.

- A deployment with a run queued or in progress skips new cron slots (the skip is logged
  by the scheduler sensor); ``INTEGRATIONS_SKIP_BUSY_SLOTS=0`` turns this off.
- Queued runs of a deployment that is paused or removed are canceled (each scheduler tick,
  and at once by ``deployments pause|remove`` and ``runs cancel --deployment``).
- Manual runs (``run-now``) carry a higher ``dagster/priority`` than scheduled ones, so they
  pass the backlog.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import dagster as dg

from integrations_pipeline.common.runs import DEPLOYMENT_TAG

SKIP_BUSY_ENV = "INTEGRATIONS_SKIP_BUSY_SLOTS"
PRIORITY_TAG = "dagster/priority"
MANUAL_PRIORITY = "10"  # the queue launches higher first; scheduled runs have the default, 0
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def skip_busy_slots() -> bool:
    return os.environ.get(SKIP_BUSY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def in_flight_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The runs queued or in progress (one query a scheduler tick)."""
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)))


def cancel_queued(
    instance: dg.DagsterInstance, deployments: Iterable[str], runs: Iterable[dg.DagsterRun] | None = None
) -> list[str]:
    """Cancel the queued (not yet launched) runs of ``deployments`` among ``runs`` (default:
    every queued run); their run ids."""
    wanted = set(deployments)
    if not wanted:
        return []
    if runs is None:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
    canceled = []
    for run in runs:
        if run.status == dg.DagsterRunStatus.QUEUED and run.tags.get(DEPLOYMENT_TAG) in wanted:
            instance.run_coordinator.cancel_run(run.run_id)
            canceled.append(run.run_id)
    return canceled
