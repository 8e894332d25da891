"""The code location: every integration in integrations.json, compiled into Dagster."""

from integrations_pipeline.compile import build_definitions
from integrations_pipeline.discovery import load_catalog

defs = build_definitions(load_catalog())
