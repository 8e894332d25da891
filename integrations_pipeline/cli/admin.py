"""Commands for running the platform: the database, integration records, tickets, and the
production processes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from integrations_pipeline.common.errors import IntegrationError


def register(commands: Any) -> None:
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


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from integrations_pipeline.db.engine import upgrade_schema

    applied = upgrade_schema()
    print(f"applied {', '.join(applied)}" if applied else "database up to date")
    return 0


def cmd_init_integrations(args: argparse.Namespace) -> int:
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.operations.records import init_integrations

    changes = init_integrations(load_catalog(args.project, include_disabled=True))
    for line in changes:
        print(line)
    if not changes:
        print("integrations up to date")
    return 0


def cmd_tickets(args: argparse.Namespace) -> int:
    from integrations_pipeline.operations.tickets import list_tickets

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
    bin_dir = Path(sys.executable).parent
    workspace = str(Path(__file__).resolve().parents[2] / "workspace.yaml")
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
