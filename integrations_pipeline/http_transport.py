"""An httpx transport that speaks HTTP/1.1 on asyncio streams, for the async toolkit client.

httpx's default transport (httpcore on anyio, parsing with h11) spends about 1.5 ms of CPU
a request on this project's 2-core machine: more than the 0.4 ms a request that 50
concurrent requests at 20 ms of latency leave (see benchmarks/bench_http.py). This one keeps
httpx's API, models, auth, redirects, cookies and decoding, and replaces only the wire:

- HTTP/1.1 with keep-alive, a pool of idle connections per origin, at most
  ``max_connections`` open at once; http and https (the toolkit's verifying SSL context);
- bodies by Content-Length, chunked transfer coding, or until the server closes;
- a request on a kept-alive connection the server has closed meanwhile is sent again once,
  on a new connection (nothing of it was answered);
- errors and timeouts as httpx's (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``,
  ...), so the toolkit's retries treat them as they treat httpx's own.

Proxies from the environment still go through httpx's own proxy transports (httpx mounts
them ahead of this one). HTTP/2 and response streaming are not offered: the toolkit reads
every response whole.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from typing import Any

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_CONNECTIONS = 100  # httpx's default
_NO_BODY_STATUSES = frozenset({204, 304})

Origin = tuple[str, str, int]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Stale(Exception):
    """A kept-alive connection was closed by the server before it answered: send again."""


class AsyncHttp11Transport(httpx.AsyncBaseTransport):
    def __init__(self, *, ssl_context: ssl.SSLContext, max_connections: int | None = None) -> None:
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections or MAX_CONNECTIONS)
        self._idle: dict[Origin, list[Streams]] = defaultdict(list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 80))
        if origin[0] not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {origin[0]!r}", request=request)
        message = _head(request) + await request.aread()
        if self._slots.locked():  # only then is there a wait to time
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("no connection became free in time", request=request) from None
        else:
            await self._slots.acquire()
        try:
            try:
                return await self._exchange(request, origin, message, timeouts, reuse=True)
            except _Stale:
                return await self._exchange(request, origin, message, timeouts, reuse=False)
        finally:
            self._slots.release()

    async def _exchange(
        self, request: httpx.Request, origin: Origin, message: bytes, timeouts: dict[str, Any], *, reuse: bool
    ) -> httpx.Response:
        streams = self._take_idle(origin) if reuse else None
        reused = streams is not None
        if streams is None:
            streams = await self._connect(request, origin, timeouts.get("connect"))
        reader, writer = streams
        keep = False
        try:
            try:
                async with asyncio.timeout(timeouts.get("write")):
                    writer.write(message)
                    await writer.drain()
            except TimeoutError:
                raise httpx.WriteTimeout("timed out sending the request", request=request) from None
            except OSError as error:
                if reused:
                    raise _Stale from None
                raise httpx.WriteError(str(error) or type(error).__name__, request=request) from None
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    response, keep = await self._read_response(request, reader, reused)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
            return response
        finally:
            if keep:
                self._idle[origin].append(streams)
            else:
                writer.close()

    def _take_idle(self, origin: Origin) -> Streams | None:
        idle = self._idle.get(origin)
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _connect(self, request: httpx.Request, origin: Origin, timeout: float | None) -> Streams:
        scheme, host, port = origin
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.open_connection(
                    host,
                    port,
                    ssl=self._ssl if scheme == "https" else None,
                    server_hostname=host if scheme == "https" else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from None
        except (OSError, ssl.SSLError) as error:
            raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from None

    async def _read_response(
        self, request: httpx.Request, reader: asyncio.StreamReader, reused: bool
    ) -> tuple[httpx.Response, bool]:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                version, status, reason, headers = _parse_head(head, request)
                if not 100 <= status < 200 or status == 101:
                    break  # 1xx answers (100 Continue, 103 Early Hints) precede the real one
            content, until_close = await _read_body(reader, request.method, status, headers, request)
        except asyncio.IncompleteReadError as error:
            if reused and not error.partial and reader.at_eof():
                raise _Stale from None
            raise httpx.RemoteProtocolError(
                "the server closed the connection before the response was complete", request=request
            ) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("response header too large", request=request) from None
        except (ConnectionError, ssl.SSLError) as error:
            if reused:
                raise _Stale from None
            raise httpx.ReadError(str(error) or type(error).__name__, request=request) from None
        connection = b",".join(v for k, v in headers if k.lower() == b"connection").lower()
        keep = not until_close and (
            b"keep-alive" in connection if version == b"HTTP/1.0" else b"close" not in connection
        )
        if b"close" in request.headers.get("connection", "").lower().encode():
            keep = False
        response = httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": version, "reason_phrase": reason},
        )
        return response, keep


def _head(request: httpx.Request) -> bytes:
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), target)]
    lines += [b"%s: %s" % (key, value) for key, value in request.headers.raw]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _parse_head(head: bytes, request: httpx.Request) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    status_line, *header_lines = head[:-4].split(b"\r\n")
    try:
        version, code, *rest = status_line.split(b" ", 2)
        status = int(code)
        if not version.startswith(b"HTTP/1."):
            raise ValueError(version)
        headers = []
        for line in header_lines:
            key, _, value = line.partition(b":")
            headers.append((key.strip(), value.strip()))
    except ValueError:
        raise httpx.RemoteProtocolError(
            f"malformed response status line {status_line[:80]!r}", request=request
        ) from None
    return version, status, rest[0] if rest else b"", headers


async def _read_body(
    reader: asyncio.StreamReader,
    method: str,
    status: int,
    headers: list[tuple[bytes, bytes]],
    request: httpx.Request,
) -> tuple[bytes, bool]:
    """(body, whether it ran until the server closed the connection)."""
    if method == "HEAD" or status in _NO_BODY_STATUSES:
        return b"", False
    length = None
    chunked = False
    for key, value in headers:
        lowered = key.lower()
        if lowered == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif lowered == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad Content-Length {value!r}", request=request) from None
    if chunked:
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0], 16)
            except ValueError:
                raise httpx.RemoteProtocolError("bad chunk size line", request=request) from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(chunks), False
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if length is not None:
        return await reader.readexactly(length), False
    return await reader.read(), True
