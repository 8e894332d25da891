"""The authoring API: what integrations import (see docs/authoring.md).

The HTTP toolkit's names are imported on first use, so an integration that does not use it
does not pay for httpx when the code location loads.
"""

import typing as _typing

from integrations_pipeline.authoring import runner as _runner
from integrations_pipeline.authoring.runner import TaskContext
from integrations_pipeline.authoring.tasks import task
from integrations_pipeline.catalog.discovery import register_tasks
from integrations_pipeline.common.redaction import register_secrets

if _typing.TYPE_CHECKING:
    from integrations_pipeline.http.client import (
        ApiKeyAuth,
        AsyncHttpClient,
        BasicAuth,
        BearerAuth,
        CursorPaginator,
        HttpClient,
        HttpError,
        LinkHeaderPaginator,
        OffsetPaginator,
        PageNumberPaginator,
        ResponseTooLarge,
        RetryPolicy,
    )
    from integrations_pipeline.testing import IntegrationRunResult

__all__ = [
    "ApiKeyAuth",
    "AsyncHttpClient",
    "BaseRunner",
    "BasicAuth",
    "BearerAuth",
    "CursorPaginator",
    "HttpClient",
    "HttpError",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "ResponseTooLarge",
    "RetryPolicy",
    "TaskContext",
    "register_secrets",
    "register_tasks",
    "task",
]


class BaseRunner(_runner.BaseRunner):
    """Base class of every integration's ``Runner`` in ``entry.py``.

    Subclasses set ``name`` (the integration's folder and integrations.json name), call
    ``register_tasks(self.__class__)`` and ``super().__init__(config)`` in ``__init__``,
    and define ``StageOne`` (authentication; returns the base dict) and ``StageTwo``.
    """

    def run(self, **kwargs: _typing.Any) -> "IntegrationRunResult":
        """Run this integration in-process on Dagster with ``self.config``.

        Keyword arguments go to :func:`integrations_pipeline.testing.run_integration`.
        """
        from integrations_pipeline.testing import run_integration

        config = {k: v for k, v in self.config.items() if k != "integration_name"}
        return run_integration(self.name, config, **kwargs)


def __getattr__(name: str) -> _typing.Any:
    # Every exported name not defined above is the HTTP toolkit's.
    if name in __all__:
        from integrations_pipeline.http import client

        value = getattr(client, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
