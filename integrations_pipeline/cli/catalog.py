"""Commands about the integrations themselves: list, validate, check (test a connection), run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations_pipeline.cli.inputs import load_config_file

if TYPE_CHECKING:
    from integrations_pipeline.catalog.discovery import Catalog


def register(commands: Any) -> None:
    listing = commands.add_parser(
        "list",
        help="integrations, their tasks and load errors, read from the source (validate imports them)",
    )
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


def cmd_list(args: argparse.Namespace) -> int:
    """Read from the integrations' source: listing imports none of them (``validate`` does)."""
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.catalog.static import read_integration

    catalog = load_catalog(args.project, include_disabled=True, loader=read_integration)
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
    from integrations_pipeline.catalog.discovery import load_catalog

    catalog = load_catalog(args.project, include_disabled=True)
    problems = [str(p) for p in catalog.problems]
    for integration in catalog.integrations.values():
        try:
            from integrations_pipeline.orchestration.build import compile_integration

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
    from integrations_pipeline.catalog.config_schema import apply_dagster_schema
    from integrations_pipeline.execution.session import open_session
    from integrations_pipeline.testing import load_integration_by_name

    integration = load_integration_by_name(args.name, args.project)
    config = load_config_file(args.config, args.name)
    processed = apply_dagster_schema(integration.name, integration.schema, config)
    session = open_session(integration, processed, unresolved=config)
    keys = ", ".join(sorted(session.base)) or "none"
    print(f"ok: {args.name}: config valid and StageOne succeeded (base keys: {keys})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from integrations_pipeline.findings.store import get_store
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
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
