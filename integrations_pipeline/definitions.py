"""The code location: every integration in integrations.json, compiled into Dagster."""

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.orchestration.build import build_definitions
from integrations_pipeline.orchestration.scaffold import teach_scaffolder

teach_scaffolder()

defs = build_definitions(load_catalog())
