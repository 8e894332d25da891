"""Compile integrations into Dagster: definitions (assets, checks, resources, jobs), the
step bodies those run, the IO manager, sensors and schedules."""
