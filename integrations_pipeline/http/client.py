"""The HTTP toolkit for collectors: retries, rate and concurrency limits, pagination, an
optional response cache, a cap on response bodies, and secrets kept out of every log line
and error. ``HttpClient`` runs on httpx; ``AsyncHttpClient`` (http/async_client.py) on aiohttp.
Both return ``httpx.Response`` objects.

Example::

    from integrations_pipeline.sdk import BearerAuth, HttpClient, LinkHeaderPaginator

    with HttpClient("https://api.github.com", auth=BearerAuth(ctx.base("token"))) as client:
        repos = [r for page in client.paginate("/orgs/acme/repos", LinkHeaderPaginator()) for r in page]

Every public name of the toolkit is importable from here; the code is split by concern:
auth.py, policies.py (retries, rate limit, cache), pagination.py, errors.py, base.py (what
the two clients share) and async_client.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from integrations_pipeline.http.async_client import AsyncHttpClient
from integrations_pipeline.http.auth import ApiKeyAuth, Auth, BasicAuth, BearerAuth
from integrations_pipeline.http.base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_CONNECTIONS,
    ClientBase,
    ssl_context,
)
from integrations_pipeline.http.errors import MAX_ERROR_BODY, HttpError, ResponseTooLarge
from integrations_pipeline.http.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    page_items,
)
from integrations_pipeline.http.policies import (
    RETRY_STATUSES,
    RateLimiter,
    ResponseCache,
    RetryPolicy,
    retry_after_seconds,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "MAX_CONNECTIONS",
    "MAX_ERROR_BODY",
    "RETRY_STATUSES",
    "ApiKeyAuth",
    "AsyncHttpClient",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "CursorPaginator",
    "HttpClient",
    "HttpError",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "Paginator",
    "RateLimiter",
    "ResponseCache",
    "ResponseTooLarge",
    "RetryPolicy",
    "retry_after_seconds",
    "ssl_context",
]


class HttpClient(ClientBase):
    """A synchronous client on httpx. Use it as a context manager, or call ``close()``.

    Keyword arguments (both clients): ``auth``, ``headers``, ``timeout`` (seconds, each of
    connect, read, write), ``retry`` (a ``RetryPolicy``), ``rate_limit`` (requests a second),
    ``max_concurrency``, ``cache_ttl`` (seconds GET responses are kept), ``secrets`` (more
    values to redact), ``max_response_bytes`` (the largest body read, 100 MiB by default;
    None for no cap): a larger body raises ``ResponseTooLarge``, an ``HttpError``, and
    ``cross_origin``: the client's credentials (its auth, credentials in the base URL, and
    its own headers that are credentials) go to the base URL's origin only; a request
    elsewhere (a next link, a redirect's ``next_request``, an absolute URL) is sent without
    them (``"strip"``, the default) or refused with an ``HttpError`` (``"refuse"``).
    """

    def __init__(self, base_url: str = "", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        # Never follows redirects (httpx's default): a 3xx is returned, its next_request offered.
        self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout, verify=ssl_context())
        self._semaphore = threading.BoundedSemaphore(self.max_concurrency) if self.max_concurrency else None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        target, headers_, cache_key, cached = self._start(method, url, headers, params)
        if cached is not None:
            return cached
        for attempt in range(self.retry.attempts):
            if self.limiter:
                self.limiter.wait()
            response, error = None, None
            try:
                with self._semaphore or contextlib.nullcontext():
                    response = self._send(method, url, target, headers_, json)
                self.requests += 1
            except httpx.TransportError as failure:
                error = f"{type(failure).__name__}: {failure}"
            delay = self._after(method, url, attempt, response, error, cache_key)
            if delay is None:
                assert response is not None
                return response
            time.sleep(delay)
        raise self._give_up(method, url, "no attempt left", None)  # pragma: no cover - loop returns or raises

    def _send(self, method: str, url: str, target: str, headers: dict[str, str], json: Any) -> httpx.Response:
        """One attempt, its body read up to the cap: httpx's ``Client.request``, streamed."""
        request = self._client.build_request(method, target, headers=headers, json=json)
        response = self._client.send(request, stream=True)
        try:
            cap = self.max_response_bytes
            if cap is None:
                response.read()
                return response
            self._check_length(method, url, response.status_code, response.headers.multi_items())
            chunks, size = [], 0
            for chunk in response.iter_bytes():  # decoded: a compressed body is capped as it unpacks
                size += len(chunk)
                if size > cap:
                    raise self._too_large(
                        method, url, response.status_code, response.headers.multi_items(),
                        f"stopped reading at {size:,} bytes",
                    )  # fmt: skip
                chunks.append(chunk)
            response._content = b"".join(chunks)  # what Response.read() keeps; reads return it
            return response
        finally:
            response.close()

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def paginate(
        self,
        url: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        items_path: str | None = None,
        max_pages: int = 10_000,
    ) -> Iterator[Any]:
        """Each page's items (the body, or the list at ``items_path``), following ``paginator``."""
        next_url: str | None = url
        page_params: dict[str, Any] | None = paginator.first(dict(params or {}))
        for _ in range(max_pages):
            assert next_url is not None and page_params is not None
            response = self.get(next_url, params=page_params)
            items = page_items(response, items_path)
            yield items
            link, page_params = paginator.next(response, page_params, items)
            if page_params is None:
                return
            next_url = link or url
