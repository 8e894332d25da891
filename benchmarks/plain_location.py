"""The benchmark's plain-Dagster code location: the generated hand-written modules imported and
built into Definitions, as a code location would. Imports nothing but dagster, so a fresh
process that loads it pays what a plain Dagster project pays."""

import sys
from pathlib import Path

import dagster as dg


def plain_defs(project: Path, integrations: int, pairs: int) -> dg.Definitions:
    """Import the hand-written modules and build their Definitions, as a code location would."""
    import importlib

    for module in [m for m in sys.modules if m == project.name or m.startswith(project.name + ".")]:
        del sys.modules[module]
    if str(project.parent) not in sys.path:
        sys.path.insert(0, str(project.parent))
    assets, checks, jobs, resources = [], [], [], {}
    for k in range(integrations):
        name = f"synth_{k:03d}"
        package = importlib.import_module(f"{project.name}.{name}")
        resources[name] = package.Session.configure_at_launch()
        jobs.append(package.job)
        for i in range(pairs):
            assets.append(
                getattr(importlib.import_module(f"{package.__name__}.collect_{i:03d}"), f"collect_{i:03d}")
            )
            checks.append(
                getattr(importlib.import_module(f"{package.__name__}.judge_{i:03d}"), f"judge_{i:03d}")
            )
    defs = dg.Definitions(assets=assets, asset_checks=checks, jobs=jobs, resources=resources)
    defs.get_repository_def().get_all_jobs()
    return defs
