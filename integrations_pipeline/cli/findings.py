"""Commands for triage: findings (violations), mutes and reports."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from integrations_pipeline.cli.inputs import future_moment, past_moment
from integrations_pipeline.common.errors import IntegrationError

SEVERITIES = ("low", "medium", "high", "critical")


def register(commands: Any) -> None:
    violations = commands.add_parser("violations", help="findings (violations) recorded by insights")
    violations.add_argument("--status", choices=("open", "resolved"))
    violations.add_argument("--integration")
    violations.add_argument("--deployment")
    violations.add_argument("--severity", choices=SEVERITIES)
    violations.add_argument(
        "--since", type=_moment(past_moment), help="last seen at or after (ISO date/time, or 7d, 12h)"
    )
    muted = violations.add_mutually_exclusive_group()
    muted.add_argument("--muted", dest="muted", action="store_const", const=True, help="muted findings only")
    muted.add_argument("--not-muted", dest="muted", action="store_const", const=False, help="unmuted only")
    violations.add_argument("--format", choices=("table", "json", "csv"), default="table")
    violations.add_argument(
        "--json", action="store_const", dest="format", const="json", help="= --format json"
    )
    violations.set_defaults(handler=cmd_violations)

    mute = commands.add_parser("mute", help="mute findings in a scope, with a reason and an optional expiry")
    mute.add_argument("--integration", required=True)
    mute.add_argument("--deployment")
    mute.add_argument("--task")
    mute.add_argument("--resource", help="resource pattern, shell-style (e.g. 'logs-*')")
    mute.add_argument("--reason", required=True)
    mute.add_argument(
        "--expires", type=_moment(future_moment), help="ISO date/time, or a duration such as 7d or 12h"
    )
    mute.set_defaults(handler=cmd_mute)

    mutes = commands.add_parser("mutes", help="list or remove mutes")
    mutes_commands = mutes.add_subparsers(dest="mutes_command", required=True)
    mutes_list = mutes_commands.add_parser("list", help="active mutes (--all: expired ones too)")
    mutes_list.add_argument("--all", action="store_true")
    mutes_list.add_argument("--json", action="store_true")
    mutes_list.set_defaults(handler=cmd_mutes_list)
    mutes_remove = mutes_commands.add_parser("remove", help="remove a mute")
    mutes_remove.add_argument("id")
    mutes_remove.set_defaults(handler=cmd_mutes_remove)

    report = commands.add_parser("report", help="run telemetry CSV and an HTML report of the findings")
    report.add_argument("--output", type=Path, default=Path("reports"), help="folder to write to")
    report.add_argument("--days", type=int, default=30, help="days of trend in the HTML report")
    report.set_defaults(handler=cmd_report)


def _moment(parse: Callable[[str], datetime]) -> Callable[[str], datetime]:
    """``parse``, with a moment beyond the calendar (``99999999999d``) a usage error."""

    def moment(value: str) -> datetime:
        try:
            return parse(value)
        except (OverflowError, ValueError):
            raise argparse.ArgumentTypeError(
                f"{value!r} is beyond the dates this command can take (years 1 to 9999)"
            ) from None

    moment.__name__ = parse.__name__  # argparse names the type in its error
    return moment


def cmd_violations(args: argparse.Namespace) -> int:
    from integrations_pipeline.findings.store import get_store

    records = get_store().list_findings(
        status=args.status,
        integration=args.integration,
        severity=args.severity,
        deployment=args.deployment,
        since=args.since,
        muted=args.muted,
    )
    if args.format == "json":
        print(json.dumps(records, indent=2, default=str))
        return 0
    if args.format == "csv":
        from integrations_pipeline.findings.export import write_findings_csv

        write_findings_csv(records, sys.stdout)
        return 0
    if not records:
        print("no findings")
        return 0
    for record in records:
        where = record["integration"] + (f"/{record['deployment']}" if record["deployment"] else "")
        what = record["task"] + (f" [{record['resource']}]" if record["resource"] else "")
        muted = " (muted)" if record["muted"] else ""
        print(
            f"{record['status']:<9} {record['severity']:<9} {where:<30} {what:<40} "
            f"{record['last_seen']}  {record['message'] or ''}{muted}"
        )
    return 0


def _check_scope(args: argparse.Namespace) -> None:
    """Refuse a mute whose integration, task or deployment does not exist, listing those that do."""
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.catalog.static import read_integration
    from integrations_pipeline.operations.deployments import DeploymentStore

    catalog = load_catalog(args.project, include_disabled=True, loader=read_integration)
    names = sorted(entry.name for entry in catalog.entries)
    if args.integration not in names:
        raise IntegrationError(
            f"mute: no integration named {args.integration!r} (integrations: {', '.join(names) or 'none'})"
        )
    integration = catalog.integrations.get(args.integration)
    if args.task is not None and integration is not None and args.task not in integration.all_tasks:
        tasks = ", ".join(sorted(integration.all_tasks)) or "none"
        raise IntegrationError(
            f"mute: no task named {args.task!r} (tasks: {tasks})", integration=args.integration
        )
    if args.deployment is not None:
        deployments = [d.name for d in DeploymentStore().all(args.integration)]
        if args.deployment not in deployments:
            known = ", ".join(deployments) or "none"
            raise IntegrationError(
                f"mute: no deployment named {args.deployment!r} (deployments: {known})",
                integration=args.integration,
            )


def cmd_mute(args: argparse.Namespace) -> int:
    from integrations_pipeline.findings.mutes import add_mute

    _check_scope(args)
    mute = add_mute(
        integration=args.integration, deployment=args.deployment, task=args.task,
        resource_pattern=args.resource, reason=args.reason, expires_at=args.expires,
    )  # fmt: skip
    until = f" until {mute['expires_at']}" if mute["expires_at"] else ""
    print(f"muted {mute['id']}{until}")
    return 0


def cmd_mutes_list(args: argparse.Namespace) -> int:
    from integrations_pipeline.findings.mutes import list_mutes

    mutes = list_mutes(include_expired=args.all)
    if args.json:
        print(json.dumps(mutes, indent=2))
        return 0
    if not mutes:
        print("no mutes")
    for m in mutes:
        scope = "/".join(
            x or "*" for x in (m["integration"], m["deployment"], m["task"], m["resource_pattern"])
        )
        state = "" if m["active"] else " (expired)"
        print(f"{m['id']}  {scope:<50} until {m['expires_at'] or 'removed'}{state}  {m['reason']}")
    return 0


def cmd_mutes_remove(args: argparse.Namespace) -> int:
    from integrations_pipeline.findings.mutes import remove_mute

    remove_mute(args.id)
    print(f"removed mute {args.id}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import dagster as dg

    from integrations_pipeline.findings.reports import write_reports

    if not os.environ.get("DAGSTER_HOME"):
        raise IntegrationError("the run telemetry comes from the Dagster instance: set DAGSTER_HOME")
    with dg.DagsterInstance.get() as instance:
        csv_path, html_path = write_reports(instance, args.output, days=args.days)
    print(f"wrote {csv_path} and {html_path}")
    return 0
