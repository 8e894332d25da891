"""Discover and validate integrations: integrations.json, the integration folders, which
collectors each task reads, and config schemas (JSON Schema, Dagster's translation of it)."""
