"""The GitHub REST API as the collectors call it: headers, retries, pagination and clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations_pipeline.sdk import (
    AsyncHttpClient,
    BearerAuth,
    HttpClient,
    HttpError,
    LinkHeaderPaginator,
    RetryPolicy,
    TaskContext,
)

HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
# GitHub's secondary rate limit asks for Retry-After: 60; the toolkit's default cap is 30 s.
RETRY = RetryPolicy(attempts=5, backoff=0.5, max_backoff=120.0)


class GitHubError(Exception):
    """GitHub refused or failed a request; the message says what to do about it."""


def client(api_url: str, token: str) -> HttpClient:
    """A client for StageOne, which has no task context."""
    return HttpClient(api_url, auth=BearerAuth(token), headers=HEADERS, retry=RETRY)


def task_client(ctx: TaskContext) -> HttpClient:
    """A client for a task: the run's secrets are kept out of its logs and errors."""
    return ctx.http(ctx.base("api_url"), **_options(ctx))


def async_task_client(ctx: TaskContext) -> AsyncHttpClient:
    """The asyncio client for a task, at most ``max_concurrency`` requests at a time."""
    return ctx.async_http(ctx.base("api_url"), **_options(ctx))


def _options(ctx: TaskContext) -> dict[str, Any]:
    return {
        "auth": BearerAuth(ctx.base("token")),
        "headers": HEADERS,
        "retry": RETRY,
        "max_concurrency": ctx.config.get("max_concurrency", 8),
    }


def get_all(api: HttpClient, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following GitHub's ``Link: <...>; rel="next"`` headers."""
    pages = api.paginate(path, LinkHeaderPaginator(), params={"per_page": PER_PAGE, **(params or {})})
    return [item for page in pages for item in page]


def rate_limited(error: HttpError) -> bool:
    """Whether GitHub refused ``error``'s request for its rate limit, not for a permission."""
    return "retry-after" in error.headers or error.headers.get("x-ratelimit-remaining") == "0"


def explain(error: HttpError, what: str, needs: str | None = None) -> GitHubError:
    """``error`` in GitHub's terms: a bad token, a missing permission (``needs``), or as it is."""
    if error.status_code == 401:
        return GitHubError(f"{what}: GitHub rejected the token (401 Bad credentials)")
    if needs and error.status_code in (403, 404) and not rate_limited(error):
        said = f" ({error.api_message})" if error.api_message else ""
        return GitHubError(f"{what}: HTTP {error.status_code}{said}; {needs}")
    return GitHubError(f"{what}: {error}")
