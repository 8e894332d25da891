"""The `integrations` command run as a real process, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from integrations_tests.conftest import PROJECT


def integrations(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``integrations *args`` from the project's folder; ``check``: it must exit 0."""
    completed = subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    if check:
        assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed
