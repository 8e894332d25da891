"""A session: an integration ready to run tasks, its config validated and StageOne run.

StageOne runs under ``stage_one_timeout`` as tasks run under ``task_timeout``
(:mod:`.limits`); its ``start()`` may be a coroutine, which is then awaited in an event loop
of its own (so what it returns must not need that loop later).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations_pipeline.authoring.runner import BaseRunner
from integrations_pipeline.catalog.config import ResolvedConfig, resolve_config
from integrations_pipeline.catalog.discovery import Integration, check_task_names
from integrations_pipeline.common.errors import IntegrationError, StageOneError
from integrations_pipeline.common.redaction import active_secrets, redact, redact_value, register_secrets
from integrations_pipeline.execution.limits import call_limited
from integrations_pipeline.execution.output import redacted_output
from integrations_pipeline.execution.task_log import send_toolkit_lines_to


@dataclass
class Session:
    """An integration ready to run tasks: its resolved config and StageOne's base dict."""

    integration: Integration
    config: ResolvedConfig
    runner: BaseRunner
    base: Mapping[str, Any]
    stage_two: Any
    # Secrets this process had registered before the session opened: other runs' business.
    earlier_secrets: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.integration.name

    def selected(self, task: str) -> bool:
        return not self.config.tasks or task in self.config.tasks

    @property
    def secrets(self) -> frozenset[str]:
        """The config's secrets and those the integration registered since the session opened."""
        return self.config.secrets | (active_secrets() - self.earlier_secrets)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def redact_value(self, value: Any) -> Any:
        return redact_value(value, self.secrets)


def resolve_integration_config(
    integration: Integration,
    config: Mapping[str, Any],
    *,
    unresolved: Mapping[str, Any] | None = None,
) -> ResolvedConfig:
    """Validate a config for ``integration``, including the names in ``tasks``."""
    resolved = resolve_config(integration.name, integration.schema, config, unresolved=unresolved)
    check_task_names(integration, resolved.tasks)
    return resolved


def open_session(
    integration: Integration,
    config: Mapping[str, Any],
    *,
    unresolved: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> Session:
    """Validate the config, build the integration's Runner and run its StageOne.

    ``log``: where the HTTP toolkit's lines (retries, backoffs) made by StageOne go, redacted
    (a run's resource-init log); without it they go where they went before."""
    resolved = resolve_integration_config(integration, config, unresolved=unresolved)
    earlier = active_secrets()
    register_secrets(resolved.secrets)
    runner_config = dict(resolved.values)
    if resolved.tasks:
        runner_config["tasks"] = list(resolved.tasks)
    runner_config["task_timeout"] = resolved.task_timeout
    runner_config["stage_one_timeout"] = resolved.stage_one_timeout
    runners: list[BaseRunner] = []

    lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def start() -> Any:
        if log is not None:
            send_toolkit_lines_to(lines.put)
        runners.append(integration.runner_cls(runner_config))
        return runners[0].StageOne(runners[0].config).start()

    def drain() -> None:  # in this thread: the caller's log may not be called from another
        while log is not None and not lines.empty():
            log(redact(lines.get_nowait(), resolved.secrets | (active_secrets() - earlier)))

    limit = resolved.stage_one_timeout
    with redacted_output():
        done = call_limited(start, limit, name=f"{integration.name}.StageOne", poll=drain)
    if done.timed_out:
        fate = "it was cancelled" if done.cancelled else "it was abandoned"
        raise StageOneError(
            f"StageOne timed out after {limit:g} s (stage_one_timeout); {fate}",
            integration=integration.name,
        )
    if isinstance(done.error, IntegrationError):
        raise done.error
    if done.error is not None:
        if not isinstance(done.error, Exception):  # KeyboardInterrupt, SystemExit
            raise done.error
        secrets = resolved.secrets | (active_secrets() - earlier)
        raise StageOneError(
            f"StageOne failed: {redact(describe_error(done.error), secrets)}",
            integration=integration.name,
        ) from None
    runner, base = runners[0], done.value
    if base is None:
        base = {}
    if not isinstance(base, Mapping):
        raise StageOneError(
            f"StageOne.start() returned {type(base).__name__}; it must return a dict",
            integration=integration.name,
        )
    stage_two = runner.StageTwo(runner.config, base)
    return Session(
        integration=integration,
        config=resolved,
        runner=runner,
        base=base,
        stage_two=stage_two,
        earlier_secrets=earlier,
    )


def describe_error(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
