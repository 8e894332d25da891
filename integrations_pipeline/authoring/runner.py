"""BaseRunner, its stages and the TaskContext a task receives (the authoring guide's API).

``register_tasks`` lives with discovery (it finds the tasks); ``BaseRunner.run`` is added by
:mod:`integrations_pipeline.sdk`, which integrations import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from integrations_pipeline.common.errors import TaskNotRunError

if TYPE_CHECKING:
    from integrations_pipeline.http.client import AsyncHttpClient, HttpClient


class BaseRunner:
    """Base class of every integration's ``Runner`` in ``entry.py``.

    Subclasses set ``name`` (the integration's folder and integrations.json name), call
    ``register_tasks(self.__class__)`` and ``super().__init__(config)`` in ``__init__``,
    and define ``StageOne`` (authentication; returns the base dict) and ``StageTwo``.
    """

    name: str = ""

    class StageOne:
        """Authentication / setup. ``start()`` returns the dict tasks read with ``ctx.base``."""

        def __init__(self, config: dict[str, Any]) -> None:
            self.config = config

        def start(self) -> dict[str, Any]:
            return self.authenticate()

        def authenticate(self) -> dict[str, Any]:
            return {}

    class StageTwo:
        """Task execution phase: tasks are bound here as methods by ``register_tasks``."""

        def __init__(self, config: dict[str, Any], base: Mapping[str, Any]) -> None:
            self.config = config
            self.base = base

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


class TaskContext:
    """What a task receives as ``ctx``.

    Attributes:
        config: The integration's config (the deployment's or the run's).
        integration: The integration's name.
        task: The running task's name.
    """

    def __init__(
        self,
        *,
        integration: str,
        task: str,
        config: dict[str, Any],
        base: Mapping[str, Any],
        inputs: Mapping[str, Mapping[str, Any]],
        status_of: Callable[[str], bool],
        known_tasks: Mapping[str, str],
        log: Callable[[str], None],
        error: Callable[[str], None],
        secrets: frozenset[str] = frozenset(),
    ) -> None:
        self.integration = integration
        self.task = task
        self.config = config
        self._base = base
        self._inputs = inputs
        self._status_of = status_of
        self._known_tasks = known_tasks
        self._log = log
        self._error = error
        self._secrets = secrets

    def base(self, key: str, default: Any = None) -> Any:
        """A value of the dict StageOne returned (``default`` when absent)."""
        return self._base.get(key, default)

    def get_data(self, task: str) -> Any:
        """The ``data`` another task returned in this run."""
        return self._output_of(task)["data"]

    def get_message(self, task: str) -> str | None:
        """The ``message`` another task returned in this run."""
        return self._output_of(task).get("message")

    def succeeded(self, task: str) -> bool:
        """Whether another task ran and succeeded in this run."""
        if task in self._inputs:
            return True
        return self._status_of(task)

    def add_log(self, message: str) -> None:
        """Add a line to the run's event log."""
        self._log(str(message))

    def add_error(self, message: str) -> None:
        """Record an error on this task without failing it."""
        self._error(str(message))

    def http(self, base_url: str = "", **kwargs: Any) -> HttpClient:
        """An :class:`~integrations_pipeline.http_client.HttpClient` that never logs this run's secrets."""
        from integrations_pipeline.http.client import HttpClient

        secrets = (*self._secrets, *kwargs.pop("secrets", ()))
        return HttpClient(base_url, secrets=secrets, **kwargs)

    def async_http(self, base_url: str = "", **kwargs: Any) -> AsyncHttpClient:
        """The asyncio version of :meth:`http`."""
        from integrations_pipeline.http.client import AsyncHttpClient

        secrets = (*self._secrets, *kwargs.pop("secrets", ()))
        return AsyncHttpClient(base_url, secrets=secrets, **kwargs)

    def _output_of(self, task: str) -> Mapping[str, Any]:
        output = self._inputs.get(task)
        if output is not None:
            return output
        kind = self._known_tasks.get(task)
        if kind is None:
            reason = f"asked for task '{task}', which this integration does not have"
        elif self._status_of(task):
            reason = (
                f"asked for the data of '{task}', which is not one of its declared inputs; "
                f"call ctx.get_data('{task}') with a literal name or add "
                f"depends_on=['{task}'] to its @task"
            )
        else:
            reason = f"asked for the data of '{task}', which did not run or failed in this run"
        raise TaskNotRunError(reason, integration=self.integration, task=self.task)
