"""aiohttp's answers as ``httpx.Response`` objects, as the async client returns them.

The response is filled as httpx's client fills it: status, every header as it came (repeated
ones such as Set-Cookie and Link included), the body, the request as sent, ``http_version``,
``reason_phrase``, ``elapsed``, and for a redirect ``next_request``, which is offered, never
followed. The body was read, and decoded (gzip, deflate), by aiohttp: the response holds it
as read, and httpx does not decode it again.

The response is an ``httpx.Response`` of a subclass whose ``headers``, ``history`` and
``request`` are made when first asked for (the request from the method, URL, headers and body
aiohttp sent). Made for every response, they would cost about 10 us of CPU each (the
request's URL parsed again) and four more objects each for the garbage collector to walk
again and again while thousands of responses are kept: a tenth of what the toolkit costs a
request in benchmarks/bench_http.py. Most callers never ask for the request, and read
the headers of few responses.
"""

from __future__ import annotations

import datetime
from typing import Any

import aiohttp
import httpx
from yarl import URL

DEFAULT_PORTS = {"http": 80, "https": 443}
_READ = httpx.ByteStream(b"")  # the stream of every response: its body was read into content
_NO_HEADERS = httpx.Headers()  # what httpx copies first (cheaper than from None)
_VERSIONS: dict[Any, bytes] = {}


class AiohttpResponse(httpx.Response):
    """An ``httpx.Response`` made from aiohttp's. Its ``headers``, ``history`` and ``request``
    are made when first asked for: until then it is one object for the garbage collector to
    walk, not five (thousands kept at once make it walk each of them again and again)."""

    # The headers as they came, "name: value" lines in one bytes object, until asked for.
    _raw_headers = b""
    _headers: httpx.Headers | None = None
    _history: list[httpx.Response] | None = None
    # What was sent, until the request is made; its headers as "name: value" lines in one
    # string, which is no object for the garbage collector either.
    _method = _url = ""
    _sent_headers: str | None = None
    _sent_content: bytes | None = None

    @property  # type: ignore[override]
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            lines = self._raw_headers.split(b"\r\n") if self._raw_headers else []
            self._headers = httpx.Headers([(k, v) for k, _, v in (line.partition(b": ") for line in lines)])
        return self._headers

    @headers.setter
    def headers(self, value: httpx.Headers) -> None:
        self._headers = value

    @property  # type: ignore[override]
    def history(self) -> list[httpx.Response]:
        if self._history is None:
            self._history = []
        return self._history

    @history.setter
    def history(self, value: list[httpx.Response]) -> None:
        self._history = value

    @property
    def request(self) -> httpx.Request:
        if self._request is None and self._sent_headers is not None:
            lines = self._sent_headers.split("\r\n") if self._sent_headers else []
            headers = [(name, value) for name, _, value in (line.partition(": ") for line in lines)]
            self._request = httpx.Request(
                self._method, self._url, headers=headers, content=self._sent_content
            )
            self._sent_headers = None
        return super().request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value

    def raise_for_status(self) -> httpx.Response:
        self.request  # noqa: B018 - made: httpx's method reads the attribute
        return super().raise_for_status()


def http_version(answer: aiohttp.ClientResponse) -> bytes:
    version = answer.version
    known = _VERSIONS.get(version)
    if known is None:
        known = _VERSIONS[version] = (
            b"HTTP/%d.%d" % (version.major, version.minor) if version else b"HTTP/1.1"
        )
    return known


def to_httpx(
    answer: aiohttp.ClientResponse,
    body: bytes,
    method: str,
    url: str,
    content: bytes | None,
    elapsed: float,
    cookies: aiohttp.abc.AbstractCookieJar,
) -> httpx.Response:
    """``answer`` (its body read) to a request of ``method`` to ``url`` with ``content``."""
    response = AiohttpResponse(answer.status, headers=_NO_HEADERS, stream=_READ)  # _READ: read already
    response.extensions = {
        "http_version": http_version(answer),
        "reason_phrase": (answer.reason or "").encode("ascii", "replace"),
    }
    # Instead of the empty ones httpx set: made from these when asked for. aiohttp's parser
    # lets no CR or LF into a header (it unfolds folded ones): the lines split back as they came.
    response._raw_headers = b"\r\n".join([key + b": " + value for key, value in answer.raw_headers])
    response._headers = response._history = None
    response._method, response._url, response._sent_content = method, url, content
    # aiohttp sends no header with CR or LF in it: the lines split back as they were.
    sent = answer.request_info.headers.items()
    response._sent_headers = "\r\n".join([f"{key}: {value}" for key, value in sent])
    response._content = body  # what Response.read() keeps: read, and not to be decoded again
    response.is_stream_consumed = response.is_closed = True
    response.elapsed = datetime.timedelta(seconds=elapsed)
    if answer.status in (301, 302, 303, 307, 308) and response.has_redirect_location:
        response.next_request = redirect_request(response.request, response, cookies)
    return response


def redirect_request(
    request: httpx.Request, response: httpx.Response, cookies: aiohttp.abc.AbstractCookieJar
) -> httpx.Request | None:
    """The request that would follow ``response``'s redirect, by httpx's client's rules
    (``_build_redirect_request``); None if its Location is no URL."""
    method = request.method
    status = response.status_code
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        method = "GET"
    try:
        url = httpx.URL(response.headers["Location"])
    except httpx.InvalidURL:
        return None
    if url.scheme and not url.host:
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    if request.url.fragment and not url.fragment:
        url = url.copy_with(fragment=request.url.fragment)
    headers = httpx.Headers(request.headers)
    if not _same_origin(url, request.url):
        if not _https_upgrade(request.url, url):
            headers.pop("Authorization", None)  # never to another origin
        headers["Host"] = url.netloc.decode("ascii")
    stream: Any = request.stream
    if method != request.method and method == "GET":
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
        stream = None
    headers.pop("Cookie", None)  # the client's cookies for the new URL instead
    jar = cookies.filter_cookies(URL(str(url), encoded=True))
    if jar:
        headers["Cookie"] = "; ".join(f"{morsel.key}={morsel.value}" for morsel in jar.values())
    return httpx.Request(method, url, headers=headers, stream=stream, extensions=request.extensions)


def _port(url: httpx.URL) -> int | None:
    return url.port or DEFAULT_PORTS.get(url.scheme)


def _same_origin(url: httpx.URL, other: httpx.URL) -> bool:
    return url.scheme == other.scheme and url.host == other.host and _port(url) == _port(other)


def _https_upgrade(url: httpx.URL, location: httpx.URL) -> bool:
    return (
        url.host == location.host
        and (url.scheme, _port(url)) == ("http", 80)
        and (location.scheme, _port(location)) == ("https", 443)
    )
