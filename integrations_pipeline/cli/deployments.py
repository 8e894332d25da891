"""Commands for deployments: add, update, list, show, pause, resume, remove, run-now, apply."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from integrations_pipeline.cli.inputs import read_mapping, read_yaml


def register(commands: Any) -> None:
    parser = commands.add_parser("deployments", help="manage deployments")
    commands = parser.add_subparsers(dest="deployments_command", required=True)

    add = commands.add_parser("add", help="add a deployment")
    add.add_argument("name")
    add.add_argument("--integration", required=True)
    add.add_argument("--config", type=Path, help="JSON or YAML config file (secrets as {env: VAR})")
    add.add_argument("--schedule", help="cron expression; none = manual runs only")
    add.add_argument("--timezone", default="UTC")
    add.add_argument("--paused", action="store_true")
    add.set_defaults(handler=cmd_deployments_add)

    update = commands.add_parser("update", help="change a deployment")
    update.add_argument("name")
    update.add_argument("--config", type=Path)
    schedule = update.add_mutually_exclusive_group()
    schedule.add_argument("--schedule")
    schedule.add_argument("--no-schedule", action="store_true", help="manual runs only")
    update.add_argument("--timezone")
    update.set_defaults(handler=cmd_deployments_update)

    listing = commands.add_parser("list", help="list deployments")
    listing.add_argument("--integration")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_deployments_list)

    for name, help_text, handler in (
        ("check", "check a deployment's config, and that its variables are set here", cmd_deployments_check),
        ("show", "show one deployment as JSON", cmd_deployments_show),
        ("pause", "stop scheduling a deployment", cmd_deployments_pause),
        ("resume", "schedule a paused deployment again", cmd_deployments_resume),
        ("remove", "remove a deployment (its violations and runs are kept)", cmd_deployments_remove),
        ("run-now", "ask the scheduler for one run now", cmd_deployments_run_now),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("name")
        command.set_defaults(handler=handler)

    apply = commands.add_parser("apply", help="make the deployments match a YAML file")
    apply.add_argument("file", type=Path)
    apply.add_argument("--prune", action="store_true", help="remove deployments not in the file")
    apply.add_argument("--dry-run", action="store_true", help="print the changes only")
    apply.set_defaults(handler=cmd_deployments_apply)


def cmd_deployments_add(args: argparse.Namespace) -> int:
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.operations.deployments import Deployment, DeploymentStore

    deployment = DeploymentStore().add(
        Deployment(
            name=args.name,
            integration=args.integration,
            config=(read_mapping(args.config) if args.config else {}),
            schedule=args.schedule,
            timezone=args.timezone,
            paused=args.paused,
        ),
        load_catalog(args.project),
    )
    when = f"on '{deployment.schedule}' ({deployment.timezone})" if deployment.schedule else "manually"
    print(f"added deployment {deployment.name} of {deployment.integration}, run {when}")
    _warn_missing_variables(deployment.name, deployment.config)
    return 0


def _warn_missing_variables(name: str, config: Any) -> list[str]:
    """Say which of a deployment's variables this process cannot see; returns them."""
    from integrations_pipeline.common.variables import missing, where_to_set

    unset = missing(config)
    for variable in unset:
        print(
            f"warning: deployment '{name}': variable {variable} is not set here; its runs need it "
            f"in {where_to_set(variable)}",
            file=sys.stderr,
        )
    return unset


def cmd_deployments_check(args: argparse.Namespace) -> int:
    """The deployment's config against its integration's schema, and its variables here."""
    from integrations_pipeline.catalog.config import check_stored_config
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.operations.deployments import DeploymentStore

    deployment = DeploymentStore().get(args.name)
    catalog = load_catalog(args.project, only=[deployment.integration])
    integration = catalog.integrations.get(deployment.integration)
    if integration is None:
        problems = "; ".join(p.message for p in catalog.problems_of(deployment.integration)) or "not loaded"
        print(
            f"error: deployment '{args.name}': integration '{deployment.integration}': {problems}",
            file=sys.stderr,
        )
        return 1
    check_stored_config(integration.name, integration.schema, deployment.config)
    if _warn_missing_variables(deployment.name, deployment.config):
        return 1
    print(
        f"deployment {deployment.name} of {deployment.integration}: "
        "its config fits and every variable is set here"
    )
    return 0


def cmd_deployments_update(args: argparse.Namespace) -> int:
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.operations.deployments import DeploymentStore

    changes: dict[str, Any] = {}
    if args.config is not None:
        changes["config"] = read_mapping(args.config) if args.config else {}
    if args.schedule is not None:
        changes["schedule"] = args.schedule
    if args.no_schedule:
        changes["schedule"] = None
    if args.timezone is not None:
        changes["timezone"] = args.timezone
    _, changed = DeploymentStore().update(args.name, load_catalog(args.project), **changes)
    print(f"updated {args.name}: {', '.join(changed)}" if changed else f"{args.name}: no change")
    return 0


def cmd_deployments_list(args: argparse.Namespace) -> int:
    from integrations_pipeline.operations.deployments import DeploymentStore

    deployments = DeploymentStore().all(args.integration)
    if args.json:
        print(json.dumps([d.as_dict() for d in deployments], indent=2))
        return 0
    if not deployments:
        print("no deployments")
    for d in deployments:
        state = "paused" if d.paused else "active"
        schedule = f"{d.schedule} ({d.timezone})" if d.schedule else "manual"
        print(f"{d.name:<30} {d.integration:<20} {state:<7} {schedule}")
    return 0


def cmd_deployments_show(args: argparse.Namespace) -> int:
    from integrations_pipeline.operations.deployments import DeploymentStore

    print(json.dumps(DeploymentStore().get(args.name).as_dict(), indent=2))
    return 0


def cmd_deployments_pause(args: argparse.Namespace) -> int:
    return _set_paused(args, True)


def cmd_deployments_resume(args: argparse.Namespace) -> int:
    return _set_paused(args, False)


def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.operations.deployments import DeploymentStore

    DeploymentStore().update(args.name, load_catalog(args.project), paused=paused)
    if paused:
        _cancel_queue(args.name)
    print(f"{args.name}: {'paused' if paused else 'resumed'}")
    return 0


def cmd_deployments_remove(args: argparse.Namespace) -> int:
    from integrations_pipeline.operations.deployments import DeploymentStore

    DeploymentStore().remove(args.name)
    print(f"removed deployment {args.name} (its violations and runs are kept)")
    _cancel_queue(args.name)
    return 0


def _cancel_queue(name: str) -> None:
    """Cancel the deployment's queued runs now (the scheduler also does, on its next tick)."""
    from integrations_pipeline.cli.queue import cancel_queued_runs

    canceled = cancel_queued_runs(name)
    if canceled:
        print(f"{name}: canceled {len(canceled)} queued run(s)")


def cmd_deployments_run_now(args: argparse.Namespace) -> int:
    from integrations_pipeline.operations.deployments import DeploymentStore

    token = DeploymentStore().request_run(args.name)
    print(f"{args.name}: run requested ({token}); the scheduler sensor launches it on its next tick")
    return 0


def cmd_deployments_apply(args: argparse.Namespace) -> int:
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.operations.deployments import DeploymentStore, parse_deployments

    wanted = parse_deployments(read_yaml(args.file))
    changes = DeploymentStore().apply(
        wanted, load_catalog(args.project), prune=args.prune, dry_run=args.dry_run
    )
    for line in changes:
        print(("would " if args.dry_run else "") + line)
    if not changes:
        print("no changes")
    return 0
