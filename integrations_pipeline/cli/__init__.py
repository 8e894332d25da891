"""The ``integrations`` command line: one module per command group.

Parsing imports nothing heavy: each command imports what it needs when it runs, so
``integrations --help`` starts fast and a command that only reads the database does not
import every integration.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from integrations_pipeline.cli import admin, catalog, deployments, findings, queue, runs
from integrations_pipeline.cli.errors import user_error


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        # The reader went away (`integrations list | head`): no traceback, and none at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:
        # A user's mistake is one line; a bug keeps its traceback.
        message = user_error(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1


def parser() -> argparse.ArgumentParser:
    """The whole command line: each group adds its commands."""
    root = argparse.ArgumentParser(
        prog="integrations", description="Integrations on Dagster: list, validate, run, triage, operate."
    )
    root.add_argument(
        "--project",
        type=Path,
        default=None,
        help="folder with integrations.json (default: this project)",
    )
    commands = root.add_subparsers(dest="command", required=True)
    for group in (catalog, runs, queue, findings, admin, deployments):
        group.register(commands)
    return root
