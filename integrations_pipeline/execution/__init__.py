"""Run tasks: a session (validated config + StageOne) and one task under its timeout, with
its result validated and redacted. Knows nothing of Dagster."""
