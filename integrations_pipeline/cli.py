"""The ``integrations`` command line: list, validate, check, run and violations."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from integrations_pipeline.discovery import Catalog, load_catalog
from integrations_pipeline.errors import IntegrationError

SEVERITIES = ("low", "medium", "high", "critical")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except IntegrationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="integrations", description=__doc__)
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        help="folder with integrations.json (default: this project)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="integrations, their tasks and load errors")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    validate = commands.add_parser("validate", help="check integrations.json and every integration")
    validate.set_defaults(handler=cmd_validate)

    check = commands.add_parser("check", help="validate a config and run StageOne only (test connection)")
    check.add_argument("name")
    check.add_argument("--config", type=Path, required=True, help="JSON or YAML config file")
    check.set_defaults(handler=cmd_check)

    run = commands.add_parser("run", help="run an integration in-process and print its outcome")
    run.add_argument("name")
    run.add_argument("--config", type=Path, help="JSON or YAML config file")
    run.add_argument("--tasks", help="comma-separated task names to run")
    run.set_defaults(handler=cmd_run)

    violations = commands.add_parser("violations", help="findings (violations) recorded by insights")
    violations.add_argument("--status", choices=("open", "resolved"))
    violations.add_argument("--integration")
    violations.add_argument("--deployment")
    violations.add_argument("--severity", choices=SEVERITIES)
    violations.add_argument("--since", type=_moment, help="last seen at or after (ISO date/time, or 7d, 12h)")
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
    mute.add_argument("--expires", type=_future_moment, help="ISO date/time, or a duration such as 7d or 12h")
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

    db = commands.add_parser("db", help="the application database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="apply the schema migrations")
    db_upgrade.set_defaults(handler=cmd_db_upgrade)

    init = commands.add_parser("init-integrations", help="sync integrations.json into the database")
    init.set_defaults(handler=cmd_init_integrations)

    tickets = commands.add_parser("tickets", help="support tickets opened for failed runs")
    tickets.add_argument("--status", choices=("open", "closed"))
    tickets.add_argument("--json", action="store_true", help="print a JSON array")
    tickets.set_defaults(handler=cmd_tickets)

    serve = commands.add_parser("serve", help="start a production process (as docker-compose does)")
    serve.add_argument("process", choices=sorted(SERVE_PROCESSES))
    serve.add_argument("--host", default=None, help="address to listen on")
    serve.add_argument("--port", type=int, default=None, help="port to listen on")
    serve.set_defaults(handler=cmd_serve)

    _deployment_commands(commands.add_parser("deployments", help="manage deployments"))
    return parser


def _deployment_commands(parser: argparse.ArgumentParser) -> None:
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


def load_config_file(path: Path, name: str) -> dict[str, Any]:
    """An integration's config from a JSON/YAML file: bare, or as Dagster run config."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise IntegrationError(f"cannot read config file {path}: {error}", integration=name) from None
    data = data or {}
    if not isinstance(data, dict):
        raise IntegrationError(f"config file {path} must hold a mapping", integration=name)
    if "resources" in data:
        data = ((data.get("resources") or {}).get(name) or {}).get("config") or {}
    return data


def cmd_list(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.project, include_disabled=True)
    rows = _listing(catalog)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        print(f"{row['name']}  ({state}{', LOAD ERROR' if row['problems'] else ''})  {row['title']}")
        for problem in row["problems"]:
            print(f"    error: {problem}")
        for task in row["tasks"]:
            extra = f" severity={task['severity']}" if task["severity"] else ""
            flag = "" if task["enabled"] else "  [disabled]"
            if task["unrunnable"]:
                flag = f"  [not run: {task['unrunnable']}]"
            print(f"    {task['type']:<9} {task['order']:>5}  {task['name']}{extra}{flag}")
    for problem in catalog.problems:
        if problem.integration is None or problem.integration not in {r["name"] for r in rows}:
            print(f"error: {problem}")
    return 0


def _listing(catalog: Catalog) -> list[dict[str, Any]]:
    rows = []
    for entry in catalog.entries:
        integration = catalog.integrations.get(entry.name)
        tasks = []
        if integration is not None:
            for task in integration.all_tasks.values():
                tasks.append(
                    {
                        "name": task.name,
                        "type": task.spec.type,
                        "title": task.spec.title,
                        "order": task.spec.order,
                        "severity": task.spec.severity,
                        "enabled": task.spec.enabled,
                        "unrunnable": integration.unrunnable.get(task.name),
                        "reads": list(task.data_deps),
                    }
                )
        rows.append(
            {
                "name": entry.name,
                "title": entry.title,
                "enabled": entry.enabled,
                "tasks": tasks,
                "problems": [p.message for p in catalog.problems_of(entry.name)],
            }
        )
    return rows


def cmd_validate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.project, include_disabled=True)
    problems = [str(p) for p in catalog.problems]
    for integration in catalog.integrations.values():
        try:
            from integrations_pipeline.compile import compile_integration

            compile_integration(integration)
        except Exception as error:
            problems.append(f"{integration.name}: cannot compile: {type(error).__name__}: {error}")
        for task, reason in integration.unrunnable.items():
            problems.append(f"{integration.name}: task '{task}' {reason}")
        if not integration.tasks:
            problems.append(f"{integration.name}: has no enabled tasks")
        elif integration.insights and not integration.collectors:
            problems.append(f"{integration.name}: has insights but no enabled collector")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"ok: {len(catalog.integrations)} integration(s) valid")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from integrations_pipeline.config import apply_dagster_schema
    from integrations_pipeline.execution import open_session
    from integrations_pipeline.testing import load_integration_by_name

    integration = load_integration_by_name(args.name, args.project)
    config = load_config_file(args.config, args.name)
    processed = apply_dagster_schema(integration.name, integration.schema, config)
    session = open_session(integration, processed, unresolved=config)
    keys = ", ".join(sorted(session.base)) or "none"
    print(f"ok: {args.name}: config valid and StageOne succeeded (base keys: {keys})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from integrations_pipeline.store import get_store
    from integrations_pipeline.testing import run_integration

    config = load_config_file(args.config, args.name) if args.config else {}
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    result = run_integration(args.name, config, tasks=tasks, project=args.project, instance=_instance())
    print(f"\n{args.name}: run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
    width = max((len(task) for task in result.tasks), default=0)
    for outcome in result.tasks.values():
        mark = "VIOLATION" if outcome.violation else outcome.status
        print(
            f"  {outcome.type:<9} {outcome.task:<{width}} {mark:<10} {outcome.message or outcome.error or ''}"
        )
        for error in outcome.errors:
            print(f"      error: {error}")
    for error in result.errors:
        print(f"  error: {error}")
    open_violations = get_store().list_findings(status="open", integration=args.name)
    print(f"\nopen violations of {args.name}: {len(open_violations)}")
    for record in open_violations:
        seen = record["last_seen"]
        print(f"  [{record['severity']}] {record['task']}: {record['message']} (last seen {seen})")
    return 0 if result.success else 1


def _instance() -> Any:
    """The DAGSTER_HOME instance when one is configured, so runs show in the UI."""
    import os

    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None


def _parse_moment(value: str, direction: int) -> Any:
    """An ISO date/time, or a duration such as ``7d``, ``12h``, ``30m`` from now in ``direction``."""
    import re
    from datetime import UTC, datetime, timedelta

    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return datetime.now(UTC) + direction * timedelta(**{unit: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO date/time nor a duration like 7d"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _moment(value: str) -> Any:
    """``--since``: an ISO date/time, or a duration back from now."""
    return _parse_moment(value, -1)


def _future_moment(value: str) -> Any:
    """``--expires``: an ISO date/time, or a duration ahead of now."""
    return _parse_moment(value, +1)


def cmd_violations(args: argparse.Namespace) -> int:
    from integrations_pipeline.store import get_store

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
        from integrations_pipeline.reports import write_findings_csv

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


def cmd_mute(args: argparse.Namespace) -> int:
    from integrations_pipeline.mutes import add_mute

    mute = add_mute(
        integration=args.integration, deployment=args.deployment, task=args.task,
        resource_pattern=args.resource, reason=args.reason, expires_at=args.expires,
    )  # fmt: skip
    until = f" until {mute['expires_at']}" if mute["expires_at"] else ""
    print(f"muted {mute['id']}{until}")
    return 0


def cmd_mutes_list(args: argparse.Namespace) -> int:
    from integrations_pipeline.mutes import list_mutes

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
    from integrations_pipeline.mutes import remove_mute

    remove_mute(args.id)
    print(f"removed mute {args.id}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from integrations_pipeline.database import upgrade_schema

    applied = upgrade_schema()
    print(f"applied {', '.join(applied)}" if applied else "database up to date")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import os

    import dagster as dg

    from integrations_pipeline.reports import write_reports

    if not os.environ.get("DAGSTER_HOME"):
        raise IntegrationError("the run telemetry comes from the Dagster instance: set DAGSTER_HOME")
    with dg.DagsterInstance.get() as instance:
        csv_path, html_path = write_reports(instance, args.output, days=args.days)
    print(f"wrote {csv_path} and {html_path}")
    return 0


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise IntegrationError(f"cannot read {path}: {error}") from None


def _deployment_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise IntegrationError(f"config file {path} must hold a mapping")
    return data


def cmd_deployments_add(args: argparse.Namespace) -> int:
    from integrations_pipeline.deployments import Deployment, DeploymentStore

    deployment = DeploymentStore().add(
        Deployment(
            name=args.name,
            integration=args.integration,
            config=_deployment_config(args.config),
            schedule=args.schedule,
            timezone=args.timezone,
            paused=args.paused,
        ),
        load_catalog(args.project),
    )
    when = f"on '{deployment.schedule}' ({deployment.timezone})" if deployment.schedule else "manually"
    print(f"added deployment {deployment.name} of {deployment.integration}, run {when}")
    return 0


def cmd_deployments_update(args: argparse.Namespace) -> int:
    from integrations_pipeline.deployments import DeploymentStore

    changes: dict[str, Any] = {}
    if args.config is not None:
        changes["config"] = _deployment_config(args.config)
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
    from integrations_pipeline.deployments import DeploymentStore

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
    from integrations_pipeline.deployments import DeploymentStore

    print(json.dumps(DeploymentStore().get(args.name).as_dict(), indent=2))
    return 0


def cmd_deployments_pause(args: argparse.Namespace) -> int:
    return _set_paused(args, True)


def cmd_deployments_resume(args: argparse.Namespace) -> int:
    return _set_paused(args, False)


def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    from integrations_pipeline.deployments import DeploymentStore

    DeploymentStore().update(args.name, load_catalog(args.project), paused=paused)
    print(f"{args.name}: {'paused' if paused else 'resumed'}")
    return 0


def cmd_deployments_remove(args: argparse.Namespace) -> int:
    from integrations_pipeline.deployments import DeploymentStore

    DeploymentStore().remove(args.name)
    print(f"removed deployment {args.name} (its violations and runs are kept)")
    return 0


def cmd_deployments_run_now(args: argparse.Namespace) -> int:
    from integrations_pipeline.deployments import DeploymentStore

    token = DeploymentStore().request_run(args.name)
    print(f"{args.name}: run requested ({token}); the scheduler sensor launches it on its next tick")
    return 0


def cmd_deployments_apply(args: argparse.Namespace) -> int:
    from integrations_pipeline.deployments import DeploymentStore, parse_deployments

    wanted = parse_deployments(_read_yaml(args.file))
    changes = DeploymentStore().apply(
        wanted, load_catalog(args.project), prune=args.prune, dry_run=args.dry_run
    )
    for line in changes:
        print(("would " if args.dry_run else "") + line)
    if not changes:
        print("no changes")
    return 0


def cmd_init_integrations(args: argparse.Namespace) -> int:
    from integrations_pipeline.integration_records import init_integrations

    changes = init_integrations(load_catalog(args.project, include_disabled=True))
    for line in changes:
        print(line)
    if not changes:
        print("integrations up to date")
    return 0


def cmd_tickets(args: argparse.Namespace) -> int:
    from integrations_pipeline.tickets import list_tickets

    tickets = list_tickets(args.status)
    if args.json:
        print(json.dumps(tickets, indent=2))
        return 0
    if not tickets:
        print("no tickets")
    for t in tickets:
        where = t["integration"] + (f"/{t['deployment']}" if t["deployment"] else "")
        tasks = ", ".join(t["failed_tasks"]) or "-"
        print(f"{t['status']:<7} {t['created_at']}  {where:<30} run {t['run_id']}  failed: {tasks}")
        print(f"        {t['error_summary'].splitlines()[0] if t['error_summary'] else ''}")
    return 0


CODE_SERVER_HOST_ENV = "INTEGRATIONS_CODE_SERVER_HOST"
CODE_SERVER_PORT_ENV = "INTEGRATIONS_CODE_SERVER_PORT"
SERVE_PROCESSES = {"code-server", "webserver", "daemon"}


def serve_command(process: str, host: str | None, port: int | None) -> list[str]:
    """The exact command of a production process (docker-compose and the tests start these)."""
    import os

    bin_dir = Path(sys.executable).parent
    workspace = str(Path(__file__).resolve().parent.parent / "workspace.yaml")
    if process == "code-server":
        return [
            str(bin_dir / "dagster"), "code-server", "start", "-m", "integrations_pipeline",
            "--location-name", "integrations",
            "-h", host or os.environ.get(CODE_SERVER_HOST_ENV, "127.0.0.1"),
            "-p", str(port or os.environ.get(CODE_SERVER_PORT_ENV, "4266")),
        ]  # fmt: skip
    if process == "webserver":
        return [
            str(bin_dir / "dagster-webserver"), "-w", workspace,
            "-h", host or "127.0.0.1", "-p", str(port or 3000),
        ]  # fmt: skip
    return [str(bin_dir / "dagster-daemon"), "run", "-w", workspace]


def cmd_serve(args: argparse.Namespace) -> int:
    """Replace this process by the server, so its pid is the server's."""
    import os

    home = os.environ.get("DAGSTER_HOME")
    if not home or not (Path(home) / "dagster.yaml").exists():
        raise IntegrationError(
            "DAGSTER_HOME must name a folder holding the project's dagster.yaml (copy it there)"
        )
    os.environ.setdefault(CODE_SERVER_HOST_ENV, "127.0.0.1")
    os.environ.setdefault(CODE_SERVER_PORT_ENV, "4266")
    if args.process == "code-server":
        cmd_init_integrations(args)  # start-up: the database knows every integration
    command = serve_command(args.process, args.host, args.port)
    sys.stdout.flush()
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
