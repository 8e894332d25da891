"""Errors that name the integration, the task and the file they come from."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class: every framework error says which integration (and task) it is about."""

    def __init__(
        self,
        message: str,
        *,
        integration: str | None = None,
        task: str | None = None,
        file: str | None = None,
    ) -> None:
        self.integration = integration
        self.task = task
        self.file = file
        self.reason = message
        super().__init__(self._render())

    def detail(self) -> str:
        """The message without the integration's name (for lists grouped by integration)."""
        return self._render(with_integration=False)

    def _render(self, *, with_integration: bool = True) -> str:
        where = []
        if self.integration and with_integration:
            where.append(f"integration '{self.integration}'")
        if self.task:
            where.append(f"task '{self.task}'")
        text = f"{' '.join(where)}: {self.reason}" if where else self.reason
        return f"{text} (in {self.file})" if self.file else text


class TaskDefinitionError(IntegrationError):
    """A ``@task`` decorator was given bad arguments."""


class IntegrationLoadError(IntegrationError):
    """An integration could not be loaded (bad entry, import error, bad schema...)."""


class IntegrationConfigError(IntegrationError):
    """A config does not satisfy the integration's JSON Schema or the common keys."""


class StageOneError(IntegrationError):
    """The integration's StageOne (authentication / setup) failed."""


class TaskFailedError(IntegrationError):
    """A task raised; the message carries the (redacted) original error."""


class TaskResultError(IntegrationError):
    """A task returned something other than its return format."""


class TaskTimeoutError(IntegrationError):
    """A task ran longer than ``task_timeout``."""


class TaskNotRunError(IntegrationError):
    """A task asked for the data or message of a task that did not run or failed."""
