"""The authoring API: what integrations import (see the README's authoring guide)."""

from integrations_pipeline.http_client import (
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
    RetryPolicy,
)
from integrations_pipeline.redaction import register_secrets
from integrations_pipeline.runner import BaseRunner, TaskContext, register_tasks
from integrations_pipeline.tasks import task

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
    "RetryPolicy",
    "TaskContext",
    "register_secrets",
    "register_tasks",
    "task",
]
