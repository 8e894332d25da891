"""Integrations (StageOne, collectors, insights) compiled into Dagster jobs.

``defs`` is built on first access, so importing the SDK does not load every integration.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "defs":
        from integrations_pipeline.definitions import defs

        return defs
    raise AttributeError(f"module 'integrations_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "defs"])
