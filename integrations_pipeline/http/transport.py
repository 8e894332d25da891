"""An httpx transport that speaks HTTP/1.1 on asyncio streams, for the async toolkit client.

httpx's default transport (httpcore on anyio, parsing with h11) spends about 1.5 ms of CPU
a request on this project's 2-core machine: more than the 0.4 ms a request that 50
concurrent requests at 20 ms of latency leave (see benchmarks/bench_http.py). This one keeps
httpx's API, models, auth, redirects, cookies and decoding, and replaces only the wire:

- HTTP/1.1 with keep-alive, a pool of idle connections per origin, at most
  ``max_connections`` open at once; http and https (the toolkit's verifying SSL context);
- bodies by Content-Length, chunked transfer coding, or until the server closes;
- an idempotent request on a kept-alive connection the server closed meanwhile is sent
  again once, on a new connection, if not a byte of it was answered;
- strict framing: a response it cannot frame for certain is an error, and its connection
  is not reused;
- errors and timeouts as httpx's (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``,
  ...), so the toolkit's retries treat them as they treat httpx's own; the read timeout
  applies to each read, as httpx's does.

HTTP/2, proxies and response streaming are not offered: the client uses httpx's own
transport when the environment names a proxy, and reads every response whole.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import defaultdict
from typing import Any

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_CONNECTIONS = 100  # httpx's default
MAX_IDLE_SECONDS = 5.0  # httpx's default keep-alive expiry
_NO_BODY_STATUSES = frozenset({204, 304})
# Methods whose request may be sent twice without harm (RFC 9110 9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_FORBIDDEN_IN_HEAD = re.compile(rb"[\r\n\0]")
_STATUS = re.compile(rb"HTTP/1\.[01] [1-9][0-9][0-9](?: .*)?", re.S)
_DIGITS = re.compile(rb"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")

Origin = tuple[str, str, int]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Stale(Exception):
    """A kept-alive connection was closed by the server before it answered: send again."""


class _Reader:
    """Reads of one response, each under the read timeout; remembers whether any byte came."""

    def __init__(self, reader: asyncio.StreamReader, timeout: float | None) -> None:
        self.reader = reader
        self.timeout = timeout
        self.received = False

    async def until(self, separator: bytes) -> bytes:
        if separator in _buffered(self.reader):  # already here: nothing to wait for, or to time
            data = await self.reader.readuntil(separator)
        else:
            async with asyncio.timeout(self.timeout):
                data = await self.reader.readuntil(separator)
        self.received = True
        return data

    async def exactly(self, count: int) -> bytes:
        """``count`` bytes; the timeout is for each read, so a slow large body is not cut short."""
        parts: list[bytes] = []
        left = count
        while left:
            if len(_buffered(self.reader)) >= left:  # already here
                part = await self.reader.read(left)
            else:
                async with asyncio.timeout(self.timeout):
                    part = await self.reader.read(min(left, 65536))
            if not part:
                raise asyncio.IncompleteReadError(b"".join(parts), count)
            self.received = True
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    async def rest(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            async with asyncio.timeout(self.timeout):
                chunk = await self.reader.read(65536)
            if not chunk:
                return b"".join(chunks)
            self.received = True
            chunks.append(chunk)


class AsyncHttp11Transport(httpx.AsyncBaseTransport):
    def __init__(self, *, ssl_context: ssl.SSLContext, max_connections: int | None = None) -> None:
        self._ssl = ssl_context
        self._max = max_connections or MAX_CONNECTIONS
        self._slots = asyncio.Semaphore(self._max)
        self._idle: dict[Origin, list[tuple[float, Streams]]] = defaultdict(list)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for _, (_, writer) in idle:
                writer.close()
        self._idle.clear()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS.get(url.scheme, 80))
        if origin[0] not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {origin[0]!r}", request=request)
        message = _message(request, await request.aread())
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
        # Only a request that may be sent twice is sent again after a stale connection.
        resendable = streams is not None and request.method in _IDEMPOTENT
        if streams is None:
            streams = await self._connect(request, origin, timeouts.get("connect"))
        reader, writer = streams
        keep = False
        try:
            try:
                writer.write(message)
                if writer.transport.get_write_buffer_size():  # not all sent at once: time the wait
                    async with asyncio.timeout(timeouts.get("write")):
                        await writer.drain()
                else:
                    await writer.drain()
            except TimeoutError:
                raise httpx.WriteTimeout("timed out sending the request", request=request) from None
            except OSError as error:
                if resendable:
                    raise _Stale from None
                raise httpx.WriteError(str(error) or type(error).__name__, request=request) from None
            response, keep = await self._read_response(
                request, _Reader(reader, timeouts.get("read")), resendable
            )
            # Bytes beyond the response mean the framing is not what it said: never reuse.
            keep = keep and not _unread(reader)
            return response
        finally:
            if keep:
                self._idle[origin].append((time.monotonic(), streams))
            else:
                writer.close()

    def _take_idle(self, origin: Origin) -> Streams | None:
        """A kept-alive connection to ``origin`` with nothing unread on it; expired ones closed."""
        idle = self._idle.get(origin)
        expired = time.monotonic() - MAX_IDLE_SECONDS
        while idle:
            since, (reader, writer) = idle.pop()
            # Anything readable on an idle connection (EOF, a 408, stray bytes) disqualifies it.
            if since >= expired and not reader.at_eof() and not _unread(reader) and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _connect(self, request: httpx.Request, origin: Origin, timeout: float | None) -> Streams:
        scheme, _, port = origin
        host = request.url.raw_host.decode("ascii")  # IDNA-encoded, as in the Host header
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
        except OSError as error:  # ssl.SSLError is one
            raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from None

    async def _read_response(
        self, request: httpx.Request, reader: _Reader, resendable: bool
    ) -> tuple[httpx.Response, bool]:
        try:
            while True:
                head = await reader.until(b"\r\n\r\n")
                version, status, reason, headers = _parse_head(head, request)
                if status == 101:
                    raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols", request=request)
                if status >= 200:
                    break  # 1xx answers (100 Continue, 103 Early Hints) precede the real one
            content, until_close = await _read_body(reader, request.method, status, headers, request)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
        except asyncio.IncompleteReadError:
            if resendable and not reader.received:
                raise _Stale from None
            raise httpx.RemoteProtocolError(
                "the server closed the connection before the response was complete", request=request
            ) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(
                "response header or chunk line too long", request=request
            ) from None
        except OSError as error:
            if resendable and not reader.received:
                raise _Stale from None
            raise httpx.ReadError(str(error) or type(error).__name__, request=request) from None
        connection = b",".join(v for k, v in headers if k.lower() == b"connection").lower()
        keep = not until_close and (
            b"keep-alive" in connection if version == b"HTTP/1.0" else b"close" not in connection
        )
        if "close" in request.headers.get("connection", "").lower():
            keep = False
        response = httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": version, "reason_phrase": reason},
        )
        return response, keep


def _buffered(reader: asyncio.StreamReader) -> bytes:
    """The bytes waiting in ``reader``'s buffer, not consumed (asyncio has no public peek)."""
    return getattr(reader, "_buffer", b"")


def _unread(reader: asyncio.StreamReader) -> bool:
    """Whether bytes wait in ``reader``'s buffer."""
    return bool(_buffered(reader))


def _message(request: httpx.Request, body: bytes) -> bytes:
    """The request's bytes. A streamed body was read whole: it goes with a Content-Length."""
    headers = [
        (k, v) for k, v in request.headers.raw if k.lower() not in (b"transfer-encoding", b"content-length")
    ]
    if body or request.method in ("POST", "PUT", "PATCH") or "content-length" in request.headers:
        headers.append((b"Content-Length", b"%d" % len(body)))
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines += [b"%s: %s" % (key, value) for key, value in headers]
    if any(_FORBIDDEN_IN_HEAD.search(line) for line in lines):
        raise httpx.LocalProtocolError("CR, LF or NUL in the request line or a header", request=request)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _parse_head(head: bytes, request: httpx.Request) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    status_line, *header_lines = head[:-4].split(b"\r\n")
    if not _STATUS.fullmatch(status_line):
        raise httpx.RemoteProtocolError(
            f"malformed response status line {status_line[:80]!r}", request=request
        )
    version, code, *rest = status_line.split(b" ", 2)
    headers: list[tuple[bytes, bytes]] = []
    for line in header_lines:
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding: part of the last value
            key, value = headers[-1]
            headers[-1] = (key, value + b" " + line.strip())
            continue
        key, colon, value = line.partition(b":")
        if not colon or not key or key != key.strip():
            raise httpx.RemoteProtocolError(f"malformed response header {line[:80]!r}", request=request)
        headers.append((key, value.strip()))
    return version, int(code), rest[0] if rest else b"", headers


async def _read_body(
    reader: _Reader,
    method: str,
    status: int,
    headers: list[tuple[bytes, bytes]],
    request: httpx.Request,
) -> tuple[bytes, bool]:
    """(body, whether the connection must close after it)."""
    if method == "HEAD" or status in _NO_BODY_STATUSES:
        return b"", False
    lengths = {value for key, value in headers if key.lower() == b"content-length"}
    codings = b",".join(value for key, value in headers if key.lower() == b"transfer-encoding").lower()
    if codings:
        if codings.rsplit(b",", 1)[-1].strip() != b"chunked":
            return await reader.rest(), True  # framed by the end of the connection
        # With a Content-Length as well, the message is suspect: read it, never reuse it.
        return await _read_chunked(reader, request), bool(lengths)
    if lengths:
        if len(lengths) > 1 or not _DIGITS.fullmatch(next(iter(lengths))):
            raise httpx.RemoteProtocolError(f"bad Content-Length {sorted(lengths)!r}", request=request)
        return await reader.exactly(int(next(iter(lengths)))), False
    return await reader.rest(), True


async def _read_chunked(reader: _Reader, request: httpx.Request) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.until(b"\r\n")
        size_text = size_line[:-2].split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise httpx.RemoteProtocolError(f"bad chunk size {size_text[:20]!r}", request=request)
        size = int(size_text, 16)
        if size == 0:
            while await reader.until(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        chunks.append(await reader.exactly(size))
        if await reader.exactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError("chunk not followed by CRLF", request=request)
