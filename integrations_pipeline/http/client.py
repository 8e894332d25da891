"""The HTTP toolkit for collectors, on httpx: retries, rate and concurrency limits,
pagination, an optional response cache, and secrets kept out of every log line and error.

Example::

    from integrations_pipeline.sdk import BearerAuth, HttpClient, LinkHeaderPaginator

    with HttpClient("https://api.github.com", auth=BearerAuth(ctx.base("token"))) as client:
        repos = [r for page in client.paginate("/orgs/acme/repos", LinkHeaderPaginator()) for r in page]
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import functools
import json as jsonlib
import logging
import os
import random
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from integrations_pipeline.common.redaction import redact, register_secrets, secret_forms
from integrations_pipeline.http.transport import MAX_CONNECTIONS, AsyncHttp11Transport

logger = logging.getLogger("integrations_pipeline.http")
_httpx_logger = logging.getLogger("httpx")  # the line httpx's client logs for each request

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class HttpError(Exception):
    """A request failed for good; the message names the method, URL and status, secrets hidden.

    Attributes:
        status_code: The last response's status (None after a connection error).
        body: The start of its body (``MAX_ERROR_BODY`` characters), secrets hidden.
        headers: Its headers, secrets hidden.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers or {})

    @property
    def api_message(self) -> str | None:
        """The ``message`` (or ``error``, ``detail``) a JSON error body gives, if any."""
        return _api_message(self.body)


MAX_ERROR_BODY = 4_000


def _text(response: httpx.Response) -> str:
    try:
        return response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, LookupError):
        return ""


def _api_message(body: str | None) -> str | None:
    if not body or not body.lstrip().startswith("{"):
        return None
    try:
        parsed = jsonlib.loads(body)
    except ValueError:
        return None
    for key in ("message", "error", "detail", "error_description"):
        value = parsed.get(key) if isinstance(parsed, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


# --- authentication -----------------------------------------------------------------------


@dataclass(frozen=True)
class BearerAuth:
    token: str

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        headers["Authorization"] = f"Bearer {self.token}"

    def secrets(self) -> list[str]:
        return [self.token]


@dataclass(frozen=True)
class ApiKeyAuth:
    """An API key in a header (default ``X-API-Key``) or, with ``query=``, a query parameter."""

    key: str
    header: str | None = "X-API-Key"
    query: str | None = None

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        if self.query:
            params[self.query] = self.key
        elif self.header:
            headers[self.header] = self.key

    def secrets(self) -> list[str]:
        return [self.key]


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        encoded = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"

    def secrets(self) -> list[str]:
        encoded = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return [self.password, encoded]


Auth = BearerAuth | ApiKeyAuth | BasicAuth


# --- retries, rate limit, cache -------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter on connection errors, 429 and 5xx; honours Retry-After."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        return random.uniform(0, ceiling) if self.jitter else ceiling


def retry_after_seconds(response: httpx.Response) -> float | None:
    """How long the server asks us to wait: ``Retry-After``, else an exhausted rate limit's reset.

    The reset is ``X-RateLimit-Reset`` (epoch seconds) when ``X-RateLimit-Remaining`` is 0, as
    GitHub and others send it, with a 403 or a 429 only.
    """
    value = response.headers.get("Retry-After")
    if not value:
        if response.status_code in (403, 429) and response.headers.get("X-RateLimit-Remaining") == "0":
            try:
                reset = float(response.headers["X-RateLimit-Reset"])
            except (KeyError, ValueError):
                return None
            # Epoch seconds (GitHub); some APIs send seconds from now instead.
            return max(0.0, reset - time.time()) if reset > 1e9 else max(0.0, reset)
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class RateLimiter:
    """At most ``per_second`` requests a second (evenly spaced), across threads."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now

    def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)

    async def wait_async(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class ResponseCache:
    """GET responses kept for ``ttl`` seconds (seed 003's cache), keyed by URL and params."""

    ttl: float
    _entries: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, httpx.Response]] = field(
        default_factory=dict
    )
    hits: int = 0

    def key(self, url: str, params: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
        return url, tuple(sorted((str(k), str(v)) for k, v in params.items()))

    def get(self, key: tuple[str, tuple[tuple[str, str], ...]]) -> httpx.Response | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        self.hits += 1
        return entry[1]

    def put(self, key: tuple[str, tuple[tuple[str, str], ...]], response: httpx.Response) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, response)


# --- pagination ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkHeaderPaginator:
    """Follows ``Link: <...>; rel="next"`` (GitHub and many others)."""

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        link = response.links.get("next", {}).get("url")
        return (link, {}) if link else (None, None)


@dataclass(frozen=True)
class CursorPaginator:
    """A cursor read from the body (``cursor_path``, dotted) sent back as ``param``."""

    cursor_path: str = "next_cursor"
    param: str = "cursor"

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        value: Any = response.json()
        for part in self.cursor_path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return (None, {**params, self.param: value}) if value else (None, None)


@dataclass(frozen=True)
class PageNumberPaginator:
    """``?page=1,2,...`` until a page comes back empty (or shorter than ``page_size``)."""

    param: str = "page"
    start: int = 1
    page_size: int | None = None
    size_param: str = "per_page"

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        sized = {self.size_param: self.page_size} if self.page_size else {}
        return {**params, **sized, self.param: self.start}

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        if not items or (self.page_size and len(items) < self.page_size):
            return None, None
        return None, {**params, self.param: int(params[self.param]) + 1}


@dataclass(frozen=True)
class OffsetPaginator:
    """``?offset=0&limit=N``, advancing by ``limit`` until a page is shorter than it."""

    limit: int = 100
    offset_param: str = "offset"
    limit_param: str = "limit"

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.offset_param: 0, self.limit_param: self.limit}

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        if not items or len(items) < self.limit:
            return None, None
        return None, {**params, self.offset_param: int(params[self.offset_param]) + self.limit}


Paginator = LinkHeaderPaginator | CursorPaginator | PageNumberPaginator | OffsetPaginator


def _items(response: httpx.Response, items_path: str | None) -> Any:
    value: Any = response.json()
    if items_path:
        for part in items_path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    return value if value is not None else []


# --- connections -----------------------------------------------------------------------------


def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once: loading the CA bundle costs 50 ms a client."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR, the cache key


# --- the clients -----------------------------------------------------------------------------


def _environment_proxies() -> bool:
    """Whether the environment names a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, any case)."""
    return any(
        os.environ.get(name) or os.environ.get(name.upper())
        for name in ("http_proxy", "https_proxy", "all_proxy")
    )


class _Base:
    def __init__(
        self,
        base_url: str = "",
        *,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        max_concurrency: int | None = None,
        cache_ttl: float | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.max_concurrency = max_concurrency
        self.cache = ResponseCache(cache_ttl) if cache_ttl else None
        self._base = httpx.URL(base_url)
        given = [*secrets, *(auth.secrets() if auth else ())]
        if self._base.password:  # in every URL httpx logs
            given.append(self._base.password)
        self.secrets = frozenset(form for secret in given if secret for form in secret_forms(secret))
        self.requests = 0
        # httpx's own rule for a relative URL: appended to the base URL's path with one "/".
        self._prefix = str(self._base) if str(self._base).endswith("/") else f"{self._base}/"
        register_secrets(self.secrets)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _prepare(
        self, headers: Mapping[str, str] | None, params: Mapping[str, Any] | None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        merged_headers = {**self.headers, **(headers or {})}
        merged_params = dict(params or {})
        if self.auth:
            self.auth.apply(merged_headers, merged_params)
        return merged_headers, merged_params

    def _start(
        self, method: str, url: str, headers: Mapping[str, str] | None, params: Mapping[str, Any] | None
    ) -> tuple[httpx.URL, dict[str, str], Any, httpx.Response | None]:
        """(target URL, headers, cache key, cached response) of a request about to be sent."""
        headers_, params_ = self._prepare(headers, params)
        # Joined here, once, as httpx would join it: httpx then takes it as it is, instead of
        # parsing the URL and the base again on every request.
        relative = self.base_url and not url.startswith("//") and not _SCHEME.match(url)
        absolute = self._prefix + url.lstrip("/") if relative else url
        # Merged into the URL: httpx would replace a query the URL already has (a next link's).
        target = httpx.URL(absolute).copy_merge_params(params_) if params_ else httpx.URL(absolute)
        cache_key = self.cache.key(str(target), {}) if self.cache and method == "GET" else None
        cached = self.cache.get(cache_key) if self.cache and cache_key else None
        return target, headers_, cache_key, cached

    def _after(
        self,
        method: str,
        url: str,
        attempt: int,
        response: httpx.Response | None,
        error: httpx.TransportError | None,
        cache_key: Any,
    ) -> float | None:
        """What an attempt's outcome means: None = done (return it), a delay = retry, or raise."""
        if response is not None and response.status_code < 400:
            if self.cache and cache_key:
                self.cache.put(cache_key, response)
            return None
        if response is None:
            what, retry_after = type(error).__name__, None
            detail = f"{what}: {error}"
        else:
            what = detail = f"HTTP {response.status_code}"
            retry_after = retry_after_seconds(response)
            if retry_after is not None and retry_after > self.retry.max_backoff:
                detail += f" (asked to wait {retry_after:.0f} s, more than max_backoff)"
                raise self._give_up(method, url, detail, response)
        if not self._should_retry(attempt, response, retry_after):
            raise self._give_up(method, url, detail, response)
        delay = self.retry.delay(attempt, retry_after)
        self._log_retry(method, url, what, delay, attempt)
        return delay

    def _give_up(self, method: str, url: str, error: str, response: httpx.Response | None) -> HttpError:
        if response is None:
            return HttpError(self.redact(f"{method} {url} failed: {error}"))
        body = self.redact(_text(response))[:MAX_ERROR_BODY]
        said = _api_message(body)
        if said:
            error += f" ({said[:200]})"
        return HttpError(
            self.redact(f"{method} {url} failed: {error}"),
            status_code=response.status_code,
            body=body,
            headers={key: self.redact(value) for key, value in response.headers.items()},
        )

    def _should_retry(self, attempt: int, response: httpx.Response | None, retry_after: float | None) -> bool:
        if attempt + 1 >= self.retry.attempts:
            return False
        if response is None or response.status_code in RETRY_STATUSES:
            return True
        # A 403 that says when to come back is a rate limit (GitHub's primary and secondary).
        return response.status_code == 403 and retry_after is not None

    def _log_retry(self, method: str, url: str, what: str, delay: float, attempt: int) -> None:
        logger.warning(self.redact(f"{method} {url}: {what}; retry {attempt + 1} in {delay:.2f} s"))


class HttpClient(_Base):
    """A synchronous client. Use it as a context manager, or call ``close()``."""

    def __init__(self, base_url: str = "", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._client = httpx.Client(base_url=base_url, timeout=self.timeout, verify=ssl_context())
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
                    response = self._client.request(method, target, headers=headers_, json=json)
                self.requests += 1
            except httpx.TransportError as failure:
                error = failure
            delay = self._after(method, url, attempt, response, error, cache_key)
            if delay is None:
                assert response is not None
                return response
            time.sleep(delay)
        raise self._give_up(method, url, "no attempt left", None)  # pragma: no cover - loop returns or raises

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
            items = _items(response, items_path)
            yield items
            link, page_params = paginator.next(response, page_params, items)
            if page_params is None:
                return
            next_url = link or url


class AsyncHttpClient(_Base):
    """The asyncio client: the same retries and limits, many requests at once."""

    def __init__(self, base_url: str = "", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        # httpx honours proxies from the environment only with its own transport.
        self._transport = (
            None
            if _environment_proxies()
            else AsyncHttp11Transport(ssl_context=ssl_context(), max_connections=self.max_concurrency)
        )
        # Its default headers and cookie jar are the toolkit's; with a proxy it sends too.
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=self.timeout,
            verify=ssl_context(),
            transport=self._transport,
            limits=httpx.Limits(max_connections=self.max_concurrency or 100),
        )
        self._timeouts = httpx.Timeout(self.timeout).as_dict()
        self._semaphore = asyncio.Semaphore(self.max_concurrency) if self.max_concurrency else None

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
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
                await self.limiter.wait_async()
            response, error = None, None
            try:
                async with self._semaphore or contextlib.nullcontext():
                    response = await self._send(method, target, headers_, json)
                self.requests += 1
            except httpx.TransportError as failure:
                error = failure
            delay = self._after(method, url, attempt, response, error, cache_key)
            if delay is None:
                assert response is not None
                return response
            await asyncio.sleep(delay)
        raise self._give_up(method, url, "no attempt left", None)  # pragma: no cover

    async def _send(self, method: str, url: httpx.URL, headers: dict[str, str], json: Any) -> httpx.Response:
        """One attempt. Straight to the transport: what ``httpx.AsyncClient.send`` adds on top
        (auth flows, redirects, event hooks) the toolkit does not use, and it costs more CPU
        than the transport itself. Default headers, cookies, ``elapsed`` and httpx's log line
        are kept as the client keeps them."""
        if self._client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")  # httpx's words
        # A proxy (httpx's client picks the transport for the URL), or credentials in the URL
        # (httpx's client sends them as Basic auth): both are httpx's client's to handle.
        if self._transport is None or url.userinfo:
            return await self._client.request(method, url, headers=headers, json=json)
        merged = self._client.headers.copy()
        merged.update(headers)
        request = httpx.Request(
            method, url, headers=merged, json=json, extensions={"timeout": self._timeouts}
        )
        cookies = self._client.cookies
        if cookies:
            cookies.set_cookie_header(request)
        started = time.perf_counter()
        response = await self._transport.handle_async_request(request)
        response.request = request
        # In httpx's order: cookies and the log line even when the body then fails to decode.
        if "set-cookie" in response.headers:
            cookies.extract_cookies(response)
        _httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            method,
            url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
        response.read()  # the transport read it whole: no I/O left, and no async iteration
        response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
        if response.has_redirect_location:  # httpx's client offers the redirect, not following it
            response.next_request = self._client._build_redirect_request(request, response)
        return response

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def get_many(self, urls: Iterable[str], **kwargs: Any) -> list[httpx.Response]:
        """GET every URL, as many at once as the concurrency limit allows (else as many as
        connections), within the rate limit; the responses in the order of ``urls``.

        A few workers take the URLs in turn, rather than a task per URL waiting for its turn:
        100,000 URLs cost 100,000 tasks of memory and scheduling otherwise. The first error
        stops every worker and is raised.
        """
        todo = list(enumerate(urls))
        responses: list[Any] = [None] * len(todo)
        pending = iter(todo)

        async def worker() -> None:
            for index, url in pending:
                responses[index] = await self.get(url, **kwargs)

        count = min(len(todo), self.max_concurrency or MAX_CONNECTIONS)
        workers = [asyncio.ensure_future(worker()) for _ in range(count)]
        try:
            await asyncio.gather(*workers)
        finally:
            for running in workers:
                running.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return responses

    async def paginate(
        self,
        url: str,
        paginator: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        items_path: str | None = None,
        max_pages: int = 10_000,
    ) -> AsyncIterator[Any]:
        next_url: str | None = url
        page_params: dict[str, Any] | None = paginator.first(dict(params or {}))
        for _ in range(max_pages):
            assert next_url is not None and page_params is not None
            response = await self.get(next_url, params=page_params)
            items = _items(response, items_path)
            yield items
            link, page_params = paginator.next(response, page_params, items)
            if page_params is None:
                return
            next_url = link or url
