"""The asyncio client, on aiohttp: the sync client's retries, limits, cache, body cap and
redaction, many requests at once.

One ``aiohttp.ClientSession`` a client, opened on its first request (in the running event
loop): keep-alive connections (idle ones closed after 5 s, as httpx closes them), at most
``max_concurrency`` (else 100) open, and so at most that many requests on the wire, at once;
the toolkit's verifying SSL context; a cookie jar (cookies from IP-address hosts too, sent
back unquoted, as httpx keeps them); bodies decoded (gzip, deflate) as they arrive. Timeouts
are httpx's: connecting, and each read, ``timeout`` seconds; no total.

The response type: ``httpx.Response``, as before and as the sync client returns it, made from
aiohttp's answer (responses.py): status, headers (repeated ones such as Set-Cookie and Link
kept), body, the request as sent, ``http_version``, ``reason_phrase``, ``elapsed``, and for a
redirect ``next_request`` (offered, never followed). About 5 us of CPU a request; a kept
response is one object for the garbage collector, its headers, history and request made when
first asked for. Connection errors read as httpx names them (``ConnectError``, ``ReadTimeout``,
``RemoteProtocolError``, ...) in ``HttpError``; a body that does not decode raises
``httpx.DecodingError``; each request logs httpx's ``HTTP Request:`` line on the ``httpx``
logger, secrets hidden.

Proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``)
are honoured as aiohttp's ``trust_env`` honours them, looked up once a host. Not with
``trust_env`` itself: it reads ``~/.netrc`` for every request's credentials as well (and then
refuses the toolkit's own Authorization header), and looks proxies up in a thread each time.
"""

from __future__ import annotations

import asyncio
import functools
import json as jsonlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import aiohttp
import httpx
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from integrations_pipeline.http.auth import basic_authorization
from integrations_pipeline.http.base import MAX_CONNECTIONS, ClientBase, environment_proxies, ssl_context
from integrations_pipeline.http.pagination import Paginator, page_items
from integrations_pipeline.http.responses import http_version, to_httpx

_httpx_logger = logging.getLogger("httpx")  # the line httpx's client logs for each request
KEEPALIVE_SECONDS = 5.0  # an idle connection is closed after this long (httpx's keep-alive expiry)
_NO_BODY_STATUSES = frozenset({204, 304})
_dumps = functools.partial(jsonlib.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_NO_PROXY: dict[str, Any] = {}
_UNDECODABLE = aiohttp.http_exceptions.ContentEncodingError

# aiohttp's connection errors in httpx's names, the first that matches.
_KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (aiohttp.ConnectionTimeoutError, "ConnectTimeout"),
    (TimeoutError, "ReadTimeout"),
    ((aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError), "ProxyError"),
    (aiohttp.ClientConnectorError, "ConnectError"),
    ((aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError), "RemoteProtocolError"),
    (aiohttp.ClientResponseError, "RemoteProtocolError"),  # a response aiohttp could not parse
    (aiohttp.NonHttpUrlClientError, "UnsupportedProtocol"),
    (aiohttp.ClientOSError, "ReadError"),
)


def describe(error: BaseException) -> str:
    """``Kind: what happened`` of a connection error, the kind in httpx's words."""
    kind = next((name for kinds, name in _KINDS if isinstance(error, kinds)), type(error).__name__)
    said = error.message if isinstance(error, aiohttp.ClientResponseError) else str(error)
    return f"{kind}: {said or type(error).__name__}"


class AsyncHttpClient(ClientBase):
    """The asyncio client: the same retries and limits, many requests at once.

    Use it as an async context manager, or ``await aclose()``. Its keyword arguments are the
    sync client's (see ``HttpClient``).
    """

    def __init__(self, base_url: str = "", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # Per-operation timeouts, as httpx's: connecting, and each read. No total.
        self._timeouts = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout)
        # (scheme, host) -> the proxy arguments for it; None: the environment names no proxy.
        self._proxies: dict[tuple[str, str | None], dict[str, Any]] | None = (
            {} if environment_proxies() else None
        )

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_concurrency or MAX_CONNECTIONS,
            ssl=ssl_context(),
            keepalive_timeout=KEEPALIVE_SECONDS,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeouts,
            # unsafe: cookies of IP-address hosts too; unquoted: sent back as they came (httpx).
            cookie_jar=aiohttp.CookieJar(unsafe=True, quote_cookie=False),
        )
        return self._session

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies servers have set (name -> value), sent back where they belong."""
        if self._session is None:
            return {}
        return {morsel.key: morsel.value for morsel in self._session.cookie_jar}

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        # One coroutine for the whole request, attempts included: every coroutine a request
        # keeps alive is more for the garbage collector to walk while it waits.
        target, headers_, cache_key, cached = self._start(method, url, headers, params)
        if cached is not None:
            return cached
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")  # httpx's words
        session = self._session or self._open()
        data = None
        if json is not None:  # as httpx sends it
            data = _dumps(json).encode()
            if not any(key.lower() == "content-type" for key in headers_):
                headers_ = {**headers_, "Content-Type": "application/json"}
        address = URL(target, encoded=True)  # as httpx normalized it (urls.py): taken as it is
        if address.raw_user is not None:
            # Credentials in the URL are sent as Basic auth, as httpx sends them.
            credentials = basic_authorization(address.user or "", address.password or "")
            headers_ = {**headers_, "Authorization": credentials}
            address = address.with_user(None)
        proxy = _NO_PROXY if self._proxies is None else self._proxy(address)
        for attempt in range(self.retry.attempts):
            if self.limiter:
                await self.limiter.wait_async()
            response, error = None, None
            started = time.perf_counter()
            try:
                try:
                    answer = await session.request(
                        method, address, headers=headers_, data=data, allow_redirects=False, **proxy
                    )
                except ValueError as refused:  # a header with CR or LF in it, say: never sent
                    if isinstance(refused, aiohttp.ClientError):
                        raise
                    raise self._give_up(method, url, f"LocalProtocolError: {refused}", None) from None
                try:
                    if self._headers_in(answer, method, url, address):
                        body = await answer.read()
                    else:
                        body = await self._read_capped(answer, method, url)
                except BaseException:
                    answer.close()  # the connection too: what is left of the body is never read
                    raise
                answer.release()
                elapsed = time.perf_counter() - started
                response = to_httpx(answer, body, method, target, data, elapsed, session.cookie_jar)
                self.requests += 1
            except (aiohttp.ClientError, TimeoutError) as failure:
                cause = failure.__cause__
                if isinstance(failure, aiohttp.ClientPayloadError) and isinstance(cause, _UNDECODABLE):
                    raise httpx.DecodingError(cause.message) from failure  # as httpx raises it
                error = describe(failure)
            delay = self._after(method, url, attempt, response, error, cache_key)
            if delay is None:
                assert response is not None
                return response
            await asyncio.sleep(delay)
        raise self._give_up(method, url, "no attempt left", None)  # pragma: no cover

    def _headers_in(self, answer: aiohttp.ClientResponse, method: str, url: str, address: URL) -> bool:
        """What follows a response's head: a 101 refused, httpx's log line, a Content-Length
        over the cap refused before a byte of the body is read. Returns whether the body may be
        read whole: there is none, or a Content-Length within the cap frames it (aiohttp reads
        no more) and it is not compressed."""
        status = answer.status
        if status == 101:  # the toolkit never asks to switch protocols
            raise aiohttp.ClientResponseError(
                answer.request_info, (), status=101, message="unexpected 101 Switching Protocols"
            )
        if _httpx_logger.isEnabledFor(logging.INFO):
            version = http_version(answer).decode()
            line = f'HTTP Request: {method} {address} "{version} {status} {answer.reason}"'
            _httpx_logger.info(self.redact(line))
        cap = self.max_response_bytes
        if cap is None or method == "HEAD" or status in _NO_BODY_STATUSES:
            return True
        length = answer.content_length
        if length is None:
            return False
        if length > cap:
            detail = f"its Content-Length is {length:,}"
            raise self._too_large(method, url, status, answer.headers.items(), detail)
        return "Content-Encoding" not in answer.headers

    async def _read_capped(self, answer: aiohttp.ClientResponse, method: str, url: str) -> bytes:
        """The body, decoded, failing as soon as it passes ``max_response_bytes`` (chunked,
        compressed, or until the connection closes)."""
        cap = self.max_response_bytes or 0
        chunks, size, content = [], 0, answer.content
        while chunk := await content.readany():
            size += len(chunk)
            if size > cap:
                detail = f"stopped reading at {size:,} bytes"
                raise self._too_large(method, url, answer.status, answer.headers.items(), detail)
            chunks.append(chunk)
        return b"".join(chunks)

    def _proxy(self, address: URL) -> dict[str, Any]:
        """The proxy arguments for ``address``, from the environment (aiohttp's trust_env rules)."""
        key = (address.scheme, address.host)
        found = self._proxies.get(key) if self._proxies is not None else _NO_PROXY
        if found is None:
            try:
                proxy, credentials = get_env_proxy_for_url(address)
            except LookupError:  # none for this scheme, or NO_PROXY names the host
                found = _NO_PROXY
            else:
                found = {"proxy": proxy}
                if credentials is not None:
                    found["proxy_headers"] = {"Proxy-Authorization": credentials.encode()}
            if self._proxies is not None:
                self._proxies[key] = found
        return found

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

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
                responses[index] = await self.request("GET", url, **kwargs)

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
            items = page_items(response, items_path)
            yield items
            link, page_params = paginator.next(response, page_params, items)
            if page_params is None:
                return
            next_url = link or url
