"""Hard limits for tasks that ignore ``task_timeout``.

``task_timeout`` runs a task in a thread and gives up on it at the limit; a task that holds
the GIL (a catastrophic regular expression, a C extension's loop) starves even that, and
ignores SIGTERM. Two limits no Python code can ignore:

- **multiprocess executor:** each step process has a watchdog, a shell that sends it
  SIGKILL a grace (``INTEGRATIONS_HARD_LIMIT_GRACE_SECONDS``, 30 s by default) after the
  task's own limit, unless the step ended first; Dagster then reports the step failed and
  the run fails (whether steps already running finish is up to Dagster's executor);
- **in-process executor (the default):** the run gets Dagster's ``dagster/max_runtime`` tag,
  derived from its config: StageOne's limit plus every selected task's, plus the grace. Run
  monitoring (``run_monitoring`` in dagster.yaml, the daemon) fails the run when it is
  exceeded. A run launched with its own ``dagster/max_runtime`` keeps it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

MAX_RUNTIME_TAG = "dagster/max_runtime"
GRACE_ENV = "INTEGRATIONS_HARD_LIMIT_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 30.0


def grace_seconds() -> float:
    """How long past its own limits a task may run before the hard limit (``GRACE_ENV``)."""
    return float(os.environ.get(GRACE_ENV, DEFAULT_GRACE_SECONDS))


def is_multiprocess(run: dg.DagsterRun) -> bool:
    run_config: Mapping[str, Any] = run.run_config
    return "multiprocess" in ((run_config.get("execution") or {}).get("config") or {})


@contextlib.contextmanager
def step_watchdog(run: dg.DagsterRun, seconds: float) -> Iterator[None]:
    """On the multiprocess path, SIGKILL this step process if it outlives ``seconds`` + grace."""
    if not is_multiprocess(run):
        yield
        return
    limit = seconds + grace_seconds()
    watchdog = subprocess.Popen(
        ["/bin/sh", "-c", f"sleep {limit:.0f} && kill -9 {os.getpid()}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the shell and its sleep are stopped together
    )  # fmt: skip
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(watchdog.pid, signal.SIGKILL)
        watchdog.wait()


def tag_max_runtime(
    instance: dg.DagsterInstance | None, run: dg.DagsterRun | None, stage_one: float, tasks: float
) -> None:
    """Give an in-process run its hard limit (see the module), unless it has one."""
    if instance is None or run is None or MAX_RUNTIME_TAG in run.tags or is_multiprocess(run):
        return
    instance.add_run_tags(run.run_id, {MAX_RUNTIME_TAG: str(int(stage_one + tasks + grace_seconds()))})
