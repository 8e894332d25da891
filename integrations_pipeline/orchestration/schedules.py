"""Default schedules: a plain Dagster schedule for each integrations.json entry that gives one
(single-tenant setups; deployments are scheduled by the scheduler sensor instead)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from integrations_pipeline.catalog.discovery import Catalog
from integrations_pipeline.common.runs import TRIGGER_TAG


def default_schedules(catalog: Catalog, jobs: Mapping[str, Any]) -> list[dg.ScheduleDefinition]:
    schedules = []
    for entry in catalog.entries:
        if entry.schedule is None or entry.name not in jobs:
            continue
        schedules.append(
            dg.ScheduleDefinition(
                name=f"{entry.name}_schedule",
                job=jobs[entry.name],
                cron_schedule=entry.schedule.cron,
                execution_timezone=entry.schedule.timezone,
                run_config={"resources": {entry.name: {"config": entry.schedule.config}}},
                default_status=dg.DefaultScheduleStatus.RUNNING,
                tags={TRIGGER_TAG: "schedule"},
                description=f"Default schedule of {entry.title} from integrations.json.",
            )
        )
    return schedules
