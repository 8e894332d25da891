"""Commands about the integrations themselves: list, validate, check (test a connection).

``run`` is in :mod:`integrations_pipeline.cli.runs`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations_pipeline.cli.configs import checked_config
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


def cmd_list(args: argparse.Namespace) -> int:
    """Read from the integrations' source: listing imports none of them (``validate`` does)."""
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.catalog.static import read_integration

    catalog = load_catalog(args.project, include_disabled=True, loader=read_integration)
    if not catalog.entries and catalog.problems:  # no integrations.json to list, or not JSON
        for problem in catalog.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
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
    from integrations_pipeline.execution.session import open_session
    from integrations_pipeline.testing import load_integration_by_name

    integration = load_integration_by_name(args.name, args.project)
    config = load_config_file(args.config, args.name)
    processed = checked_config(integration, config)
    session = open_session(integration, processed, unresolved=config)
    keys = ", ".join(sorted(session.base)) or "none"
    print(f"ok: {args.name}: config valid and StageOne succeeded (base keys: {keys})")
    return 0
