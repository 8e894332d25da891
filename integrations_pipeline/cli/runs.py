"""``integrations run``: one integration, or several one after another (``--all``,
``--tag``), in this process.

A config is checked as ``integrations check`` checks it before its run starts, so a
mistake in it is one line naming the integration, not a failed run. With several, one
that fails does not stop the others; each ends as one line of the summary.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from integrations_pipeline.cli.configs import checked_config
from integrations_pipeline.cli.errors import one_line, user_error
from integrations_pipeline.cli.inputs import load_config_file
from integrations_pipeline.common.errors import IntegrationError

if TYPE_CHECKING:
    from integrations_pipeline.catalog.discovery import Catalog
    from integrations_pipeline.catalog.entries import IntegrationEntry
    from integrations_pipeline.testing import IntegrationRunResult

EXAMPLE_CONFIG = "config.example.yaml"


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run integrations in-process and print their outcome",
        description="Run one integration (NAME), all of them (--all) or those with a tag (--tag), "
        "one after another in this process.",
    )
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", metavar="NAME", help="the integration to run")
    which.add_argument("--all", action="store_true", help="every integration of integrations.json")
    which.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="the integrations tagged TAG; repeat it for those with any of several tags",
    )
    config = run.add_mutually_exclusive_group()
    config.add_argument("--config", type=Path, help="JSON or YAML config file (with NAME)")
    config.add_argument(
        "--config-dir",
        type=Path,
        metavar="DIR",
        help=f"with --all or --tag: each integration's config is DIR/<name>.yaml "
        f"(default: integrations/<name>/{EXAMPLE_CONFIG})",
    )
    run.add_argument("--tasks", help="comma-separated task names to run (with NAME)")
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    if args.name is not None:
        if args.config_dir is not None:
            raise IntegrationError("--config-dir goes with --all or --tag; give NAME its file with --config")
        return _run_one(args)
    if args.config is not None:
        raise IntegrationError("--config goes with NAME; with --all or --tag use --config-dir")
    if args.tasks:
        raise IntegrationError("--tasks goes with NAME: task names belong to one integration")
    return _run_many(args)


def _run_one(args: argparse.Namespace) -> int:
    from integrations_pipeline.findings.store import get_store
    from integrations_pipeline.testing import load_integration_by_name, run_integration

    integration = load_integration_by_name(args.name, args.project)
    config = load_config_file(args.config, args.name) if args.config else {}
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    checked_config(integration, config, tasks)
    result = run_integration(
        args.name, config, tasks=tasks, project=args.project, instance=_instance(), integration=integration
    )
    _print_run(result)
    open_violations = get_store().list_findings(status="open", integration=args.name)
    print(f"\nopen violations of {args.name}: {len(open_violations)}")
    for record in open_violations:
        seen = record["last_seen"]
        print(f"  [{record['severity']}] {record['task']}: {record['message']} (last seen {seen})")
    return 0 if result.success else 1


@dataclass(frozen=True)
class Outcome:
    """How one of several integrations ended, for the summary."""

    integration: str
    state: Literal["succeeded", "failed", "skipped"]
    detail: str


def _run_many(args: argparse.Namespace) -> int:
    from integrations_pipeline.catalog.discovery import load_catalog
    from integrations_pipeline.common.paths import project_dir

    project = args.project or project_dir()
    listed = load_catalog(project, only=())
    outcomes: list[Outcome] = []
    for problem in listed.problems:
        if args.all:
            outcomes.append(Outcome(problem.integration or "integrations.json", "failed", problem.message))
        else:
            print(f"warning: {problem} (its tags are unknown: not run)", file=sys.stderr)
    selected = listed.entries if args.all else _tagged(listed, args.tag)
    catalog = load_catalog(project, only=[entry.name for entry in selected if entry.enabled])
    instance = _instance()
    for entry in selected:
        outcomes.append(_run_entry(entry, catalog, project, args.config_dir, instance))
    _print_summary(outcomes)
    return 1 if any(outcome.state == "failed" for outcome in outcomes) else 0


def _tagged(catalog: Catalog, tags: list[str]) -> list[IntegrationEntry]:
    selected = [entry for entry in catalog.entries if set(entry.tags) & set(tags)]
    if not selected:
        known = sorted({tag for entry in catalog.entries for tag in entry.tags})
        raise IntegrationError(
            f"no integration in integrations.json is tagged {' or '.join(map(repr, tags))} "
            f"(tags: {', '.join(known) or 'none'})"
        )
    return selected


def config_path(project: Path, name: str, config_dir: Path | None) -> Path:
    """Where integration ``name`` finds its config when several run."""
    if config_dir is not None:
        return config_dir / f"{name}.yaml"
    return project / "integrations" / name / EXAMPLE_CONFIG


def _run_entry(
    entry: IntegrationEntry, catalog: Catalog, project: Path, config_dir: Path | None, instance: Any
) -> Outcome:
    from integrations_pipeline.testing import run_integration

    name = entry.name
    if not entry.enabled:
        print(f"\n{name}: skipped (disabled in integrations.json)")
        return Outcome(name, "skipped", "disabled in integrations.json")
    integration = catalog.integrations.get(name)
    if integration is None:
        problems = "; ".join(p.message for p in catalog.problems_of(name)) or "could not be loaded"
        print(f"\n{name}: not run: {problems}")
        return Outcome(name, "failed", problems)
    path = config_path(project, name, config_dir)
    print(f"\n{name}: config {path}", flush=True)
    try:
        if not path.is_file():
            raise IntegrationError(f"config file {path} not found", integration=name)
        config = load_config_file(path, name)
        checked_config(integration, config)
        result = run_integration(name, config, project=project, instance=instance, integration=integration)
    except Exception as error:
        message = user_error(error, integration=name)
        if message is None:
            # A bug rather than a mistake: its traceback, and the next integration still runs.
            traceback.print_exc()
            message = one_line(f"{type(error).__name__}: {error}")
        print(f"{name}: not run: {message}")
        return Outcome(name, "failed", message)
    _print_run(result)
    return _outcome(result)


def _outcome(result: IntegrationRunResult) -> Outcome:
    violations = result.violations
    found = f"{len(violations)} violation(s)" + (f": {', '.join(violations)}" if violations else "")
    if result.success:
        return Outcome(result.integration, "succeeded", found)
    failed_tasks = [o for o in result.tasks.values() if o.status == "failed"]
    errors = result.errors or [f"task '{o.task}': {o.error}" for o in failed_tasks if o.error]
    reason = _without_framing(one_line(errors[0]), result.integration) if errors else "the run failed"
    more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
    return Outcome(result.integration, "failed", f"{reason}{more}" + (f"; {found}" if violations else ""))


def _without_framing(error: str, integration: str) -> str:
    """A run error without what the summary line says already: the framework's error class
    and the integration's name."""
    error = re.sub(r"^integrations_pipeline\.[\w.]+Error: ", "", error)
    return error.removeprefix(f"integration '{integration}': ")


def _print_run(result: IntegrationRunResult) -> None:
    print(f"\n{result.integration}: run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
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


def _print_summary(outcomes: list[Outcome]) -> None:
    counts = {state: sum(o.state == state for o in outcomes) for state in ("succeeded", "failed", "skipped")}
    print(f"\n{len(outcomes)} integration(s): " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    width = max((len(o.integration) for o in outcomes), default=0)
    for outcome in outcomes:
        print(f"  {outcome.integration:<{width}}  {outcome.state:<9}  {outcome.detail}")


def _instance() -> Any:
    """The DAGSTER_HOME instance when one is configured, so runs show in the UI."""
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
