"""`integrations runs cancel --deployment NAME`: clear a deployment's queued runs."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser("runs", help="Dagster's run queue (needs DAGSTER_HOME)")
    runs = parser.add_subparsers(dest="runs_command", required=True)
    cancel = runs.add_parser("cancel", help="cancel a deployment's queued runs (running ones go on)")
    cancel.add_argument("--deployment", required=True, help="the deployment whose queued runs to cancel")
    cancel.set_defaults(handler=cmd_runs_cancel)


def cmd_runs_cancel(args: argparse.Namespace) -> int:
    canceled = cancel_queued_runs(args.deployment)
    if canceled is None:
        print("error: DAGSTER_HOME is not set: the run queue lives in its Dagster instance", file=sys.stderr)
        return 1
    print(f"{args.deployment}: canceled {len(canceled)} queued run(s)")
    return 0


def cancel_queued_runs(deployment: str) -> list[str] | None:
    """Cancel ``deployment``'s queued runs in the DAGSTER_HOME instance; None without one."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    import dagster as dg

    from integrations_pipeline.orchestration.backpressure import cancel_queued

    with dg.DagsterInstance.get() as instance:
        return cancel_queued(instance, [deployment])
