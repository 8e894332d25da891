"""The async client (aiohttp) against a raw socket server that answers byte for byte: framing,
keep-alive, errors, TLS, proxies, and the cap on response bodies (both clients)."""

import asyncio
import gzip
import json
import pickle
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations_pipeline.http.client import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncHttpClient,
    BearerAuth,
    HttpClient,
    HttpError,
    ResponseTooLarge,
    RetryPolicy,
)

FAST = RetryPolicy(attempts=3, backoff=0.01, jitter=False)


def ok(body: bytes, *headers: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body) + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + body


def redirect(status: bytes, location: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nLocation: %s\r\nSet-Cookie: hop=1; Path=/\r\nContent-Length: 0\r\n\r\n" % (
        status,
        location,
    )


# path -> (raw answer, close the connection after it)
ROUTES: dict[bytes, Callable[[bytes], tuple[bytes, bool]]] = {
    b"/plain": lambda body: (ok(b'{"a": 1}', b"Content-Type: application/json"), False),
    b"/echo": lambda body: (ok(body), False),
    b"/chunked": lambda body: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n",
        False,
    ),
    b"/until-close": lambda body: (b"HTTP/1.1 200 OK\r\n\r\nall of it, then EOF", True),
    b"/close": lambda body: (ok(b"bye", b"Connection: close"), True),
    b"/http10": lambda body: (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
    b"/no-content": lambda body: (b"HTTP/1.1 204 No Content\r\n\r\n", False),
    b"/early-hints": lambda body: (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok(b"final"),
        False,
    ),
    b"/gzip": lambda body: (ok(gzip.compress(b"unzipped"), b"Content-Encoding: gzip"), False),
    b"/garbage": lambda body: (b"NOT HTTP AT ALL\r\n\r\n", True),
    b"/truncated": lambda body: (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", True),
    b"/slow": lambda body: (time.sleep(1.0) or ok(b"late"), False),  # type: ignore[func-returns-value]
    b"/extra-bytes": lambda body: (ok(b"ok") + b"STALE", False),
    b"/folded": lambda body: (ok(b"f", b"X-Long: part1", b"  part2"), False),
    b"/negative-length": lambda body: (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", True),
    b"/two-lengths": lambda body: (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        True,
    ),
    b"/hex-prefix": lambda body: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
        True,
    ),
    b"/switching": lambda body: (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", True),
    b"/bad-status": lambda body: (b"HTTP/1.1 2_00 OK\r\nContent-Length: 0\r\n\r\n", True),
    b"/repeated": lambda body: (
        ok(
            b"[]",
            b"Set-Cookie: a=1; Path=/",
            b"Set-Cookie: b=2; Path=/",
            b'Link: </p2>; rel="next"',
            b'Link: </p9>; rel="last"',
            b"X-Empty:",
            b"X-Odd: a: b",
        ),
        False,
    ),
    b"/found": lambda body: (redirect(b"302 Found", b"/plain?from=found"), False),
    b"/see-other": lambda body: (redirect(b"303 See Other", b"/plain"), False),
    b"/temporary": lambda body: (redirect(b"307 Temporary Redirect", b"/echo"), False),
    b"/elsewhere": lambda body: (redirect(b"302 Found", b"http://other.example/x"), False),
}


class RawServer:
    """Answers requests on 127.0.0.1 with ROUTES; counts connections and requests."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.requests: list[tuple[bytes, bytes, bytes]] = []  # (method, path, body)
        self.idle_close = False  # close every connection after its first answer, without saying so
        self.drop_reused = False  # close, unanswered, a connection's second request (a keep-alive race)
        self.dropped = 0
        self.hung_up = 0  # connections the client closed
        self.process_dropped = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tls = tls
        self.port = self.listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        if self.tls:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):  # the client refused our certificate
                conn.close()
                return
        buffer = b""
        served = 0
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        self.hung_up += 1
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                method, path = head.split(b" ")[:2]
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                if served and self.drop_reused:
                    self.dropped += 1
                    if self.process_dropped:  # the server did the work, then the connection died
                        self.requests.append((method, path, body))
                    return
                if path == b"/trickle":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
                    for _ in range(10):
                        time.sleep(0.15)
                        conn.sendall(b"x")
                    served += 1
                    continue
                served += 1
                self.requests.append((method, path, body))
                answer, close = ROUTES.get(
                    path, lambda body: (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", False)
                )(body)
                conn.sendall(answer if method != b"HEAD" else answer.split(b"\r\n\r\n")[0] + b"\r\n\r\n")
                if close or self.idle_close:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def fetch(url: str, *paths: str, method: str = "GET", headers=None, **kwargs) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with AsyncHttpClient(url, **{"retry": FAST, **kwargs}) as api:
            return [await api.request(method, path, headers=headers) for path in paths]

    return asyncio.run(go())


def test_keeps_connections_alive_and_reads_every_kind_of_body(raw: RawServer):
    responses = fetch(raw.url, "/plain", "/chunked", "/no-content", "/early-hints", "/gzip", "/plain")
    assert responses[0].json() == {"a": 1} and responses[0].http_version == "HTTP/1.1"
    assert responses[1].text == "hello, world"
    assert (responses[2].status_code, responses[2].content) == (204, b"")
    assert (responses[3].status_code, responses[3].text) == (200, "final")
    assert responses[4].text == "unzipped" and responses[4].headers["content-encoding"] == "gzip"
    assert raw.connections == 1  # all six on one kept-alive connection


def test_a_body_until_close_and_connection_close_and_http10_each_end_their_connection(raw: RawServer):
    responses = fetch(raw.url, "/until-close", "/close", "/http10", "/plain")
    assert [r.text for r in responses[:3]] == ["all of it, then EOF", "bye", "ok"]
    assert responses[2].http_version == "HTTP/1.0"
    assert raw.connections == 4


def test_head_has_no_body_and_post_sends_its_json(raw: RawServer):
    [head] = fetch(raw.url, "/plain", method="HEAD")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "8")

    async def post() -> httpx.Response:
        async with AsyncHttpClient(raw.url) as api:
            return await api.request("POST", "/echo", json={"k": "v"})

    response = asyncio.run(post())
    assert json.loads(response.content) == {"k": "v"} and response.request.content == response.content
    assert raw.requests[-1][:2] == (b"POST", b"/echo")


def test_a_connection_the_server_closed_while_idle_is_replaced_without_an_error(raw: RawServer):
    raw.idle_close = True
    responses = fetch(raw.url, "/plain", "/plain", "/plain")
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(raw.requests) == 3 and raw.connections == 3


def test_a_request_a_kept_alive_connection_drops_unanswered_is_sent_again_once(raw: RawServer):
    raw.drop_reused = True
    responses = fetch(raw.url, "/plain", "/plain", "/plain", retry=RetryPolicy(attempts=1))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert (raw.dropped, len(raw.requests), raw.connections) == (2, 3, 3)


@pytest.mark.parametrize("path", ["/garbage", "/truncated"])
def test_a_broken_response_is_a_protocol_error_that_is_retried(raw: RawServer, path: str):
    with pytest.raises(HttpError, match="RemoteProtocolError: "):
        fetch(raw.url, path)
    assert len(raw.requests) == FAST.attempts


def test_timeouts_and_refused_connections_are_named_as_httpx_names_them(raw: RawServer):
    with pytest.raises(HttpError, match="ReadTimeout"):
        fetch(raw.url, "/slow", timeout=0.2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(HttpError, match="ConnectError"):
        fetch(f"http://127.0.0.1:{free}", "/plain")


def test_max_concurrency_bounds_the_open_connections(raw: RawServer):
    async def many() -> None:
        async with AsyncHttpClient(raw.url, max_concurrency=3) as api:
            await asyncio.gather(*(api.get("/slow") for _ in range(6)))

    started = time.monotonic()
    asyncio.run(many())
    assert raw.connections == 3
    assert time.monotonic() - started >= 2.0  # two waves of three


def test_https_verifies_the_server_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = RawServer(tls)
    try:
        with pytest.raises(HttpError, match=r"ConnectError: .*CERTIFICATE_VERIFY_FAILED"):
            fetch(server.url, "/plain")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        [response] = fetch(server.url, "/plain")
        assert response.json() == {"a": 1}
    finally:
        server.close()


def test_a_post_is_never_sent_twice_even_when_its_connection_dies_unanswered(raw: RawServer):
    raw.drop_reused, raw.process_dropped = True, True

    async def go() -> None:
        async with AsyncHttpClient(raw.url, retry=RetryPolicy(attempts=1)) as api:
            await api.request("POST", "/echo", json={"n": 1})
            await api.request("POST", "/echo", json={"n": 2})

    with pytest.raises(HttpError, match="RemoteProtocolError"):
        asyncio.run(go())
    assert [json.loads(body) for _, _, body in raw.requests] == [{"n": 1}, {"n": 2}]  # once each


def test_bytes_beyond_a_response_make_it_a_protocol_error_and_its_connection_is_dropped(raw: RawServer):
    async def go() -> httpx.Response:
        async with AsyncHttpClient(raw.url, retry=RetryPolicy(attempts=1)) as api:
            with pytest.raises(HttpError, match="RemoteProtocolError: Bad status line"):
                await api.get("/extra-bytes")  # aiohttp refuses what follows it in the same read
            return await api.get("/plain")

    assert asyncio.run(go()).json() == {"a": 1}
    assert raw.connections == 2


def test_cr_or_lf_in_a_header_is_refused_before_sending(raw: RawServer):
    async def go() -> None:
        async with AsyncHttpClient(raw.url, retry=FAST) as api:
            await api.get("/plain", headers={"X-A": "v\r\nX-Injected: yes"})

    with pytest.raises(HttpError, match="LocalProtocolError"):
        asyncio.run(go())
    assert raw.requests == []


def test_closing_the_client_closes_its_idle_connections(raw: RawServer):
    async def go() -> None:
        api = AsyncHttpClient(raw.url)
        await api.get("/plain")
        assert raw.hung_up == 0  # kept alive
        await api.aclose()

    asyncio.run(go())
    deadline = time.monotonic() + 2
    while raw.hung_up < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (raw.connections, raw.hung_up) == (1, 1)


@pytest.mark.parametrize(
    "path", ["/negative-length", "/two-lengths", "/hex-prefix", "/switching", "/bad-status"]
)
def test_responses_that_cannot_be_framed_for_certain_are_protocol_errors(raw: RawServer, path: str):
    with pytest.raises(HttpError, match="RemoteProtocolError: "):
        fetch(raw.url, path, retry=RetryPolicy(attempts=1))


def test_the_read_timeout_applies_to_each_read_not_the_whole_response(raw: RawServer):
    [response] = fetch(raw.url, "/trickle", timeout=0.6)  # 1.5 s in all, 0.15 s between bytes
    assert response.content == b"x" * 10


def test_a_folded_header_is_one_value(raw: RawServer):
    [response] = fetch(raw.url, "/folded")
    assert response.headers["x-long"].split() == ["part1", "part2"]  # aiohttp keeps both spaces


# --- the response --------------------------------------------------------------------------------


def test_the_response_holds_the_request_as_sent_and_pickles(raw: RawServer):
    [response] = fetch(raw.url, "/plain", headers={"X-Trace": "t-1"})
    request = response.request
    assert (request.method, request.url) == ("GET", httpx.URL(f"{raw.url}/plain"))
    assert request.headers["host"] == f"127.0.0.1:{raw.port}" and request.headers["x-trace"] == "t-1"
    assert request.headers["accept-encoding"].startswith("gzip") and request.content == b""
    copy = pickle.loads(pickle.dumps(response))
    assert (copy.status_code, copy.json(), copy.request.url) == (200, {"a": 1}, request.url)
    assert copy.headers == response.headers and copy.http_version == "HTTP/1.1"


def test_repeated_and_odd_headers_come_as_they_came(raw: RawServer):
    [response] = fetch(raw.url, "/repeated")
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.links["next"]["url"] == "/p2" and response.links["last"]["url"] == "/p9"
    assert (response.headers["x-empty"], response.headers["x-odd"]) == ("", "a: b")
    assert list(response.headers)[:2] == ["content-length", "set-cookie"]  # in their order
    assert response.history == [] and response.json() == []


def test_a_redirect_is_offered_as_httpx_offers_it_and_raise_for_status_has_its_request(raw: RawServer):
    async def go() -> list[httpx.Response]:
        async with AsyncHttpClient(raw.url, auth=BearerAuth("tok-redirect-1234")) as api:
            return [
                await api.get("/found"),
                await api.request("POST", "/see-other", json={"a": 1}),
                await api.request("POST", "/temporary", json={"a": 1}),
                await api.get("/elsewhere"),
            ]

    found, see_other, temporary, elsewhere = asyncio.run(go())
    assert found.status_code == 302 and [path for _, path, _ in raw.requests].count(b"/plain") == 0
    offered = found.next_request
    assert offered is not None and offered.url == f"{raw.url}/plain?from=found"
    assert offered.headers["authorization"] == "Bearer tok-redirect-1234"
    assert offered.headers["cookie"] == "hop=1"  # the client's cookies for the new URL
    with pytest.raises(httpx.HTTPStatusError) as raised:
        found.raise_for_status()
    assert raised.value.request is found.request
    assert (see_other.next_request.method, see_other.next_request.content) == ("GET", b"")
    assert (temporary.next_request.method, temporary.next_request.read()) == ("POST", b'{"a":1}')
    assert "authorization" not in elsewhere.next_request.headers  # never to another origin


# --- the cap on response bodies, both clients -------------------------------------------------


class AsyncioServer:
    """A raw asyncio server on 127.0.0.1, in a thread and event loop of its own: ``handle``
    answers each connection, given this server (to count what it sent) and the streams."""

    def __init__(self, handle: Callable[..., Any]) -> None:
        self.sent = 0  # body bytes written
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handle(self, reader, writer)
            finally:
                writer.close()

        async def serve() -> None:
            self.server = await asyncio.start_server(one, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
            started.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(5)
        started.wait(5)

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            if handlers:  # each ends when its client hangs up
                await asyncio.wait(handlers, timeout=5)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def lying_length(server: AsyncioServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """Says 100 GB are coming, then sends nothing until the client hangs up: one that started
    reading would wait."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n")
    await reader.read()


async def endless_chunks(server: AsyncioServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """A chunked body that never ends: 64 KiB chunks for as long as the client reads them."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    try:
        while True:
            writer.write(chunk)
            await writer.drain()  # waits while the client does not read
            server.sent += 65536
    except ConnectionError:
        pass


async def gzip_bomb(server: AsyncioServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """A 5 MiB body in 5 KiB of gzip."""
    await reader.readuntil(b"\r\n\r\n")
    body = gzip.compress(b"\0" * (5 << 20))
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()


def get_once(client: str, url: str, path: str, **kwargs: Any) -> httpx.Response:
    """GET ``path`` with the sync or the async client, one attempt, a 5 s timeout."""
    options = {"retry": RetryPolicy(attempts=1), "timeout": 5.0, **kwargs}
    if client == "sync":
        with HttpClient(url, **options) as api:
            return api.get(path)

    async def go() -> httpx.Response:
        async with AsyncHttpClient(url, **options) as api:
            return await api.get(path)

    return asyncio.run(go())


@pytest.fixture
def serving() -> Iterator[Callable[[Callable[..., Any]], AsyncioServer]]:
    servers: list[AsyncioServer] = []

    def start(handle: Callable[..., Any]) -> AsyncioServer:
        servers.append(AsyncioServer(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_the_body_cap_has_a_default_and_can_be_set_or_lifted():
    assert DEFAULT_MAX_RESPONSE_BYTES == 100 * 1024 * 1024
    assert (
        HttpClient().max_response_bytes == AsyncHttpClient().max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES
    )
    assert AsyncHttpClient(max_response_bytes=None).max_response_bytes is None
    with pytest.raises(ValueError, match="max_response_bytes"):
        AsyncHttpClient(max_response_bytes=-1)


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_content_length_over_the_cap_fails_before_a_byte_of_the_body_is_read(serving, client: str):
    server = serving(lying_length)
    key = "cap-key-1234567"
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge) as raised:
        get_once(client, server.url, f"/export?key={key}", secrets=[key])
    assert time.monotonic() - started < 2  # it never waited for the 100 GB (the timeout is 5 s)
    error = raised.value
    assert isinstance(error, HttpError) and error.status_code == 200
    assert str(error).startswith("GET /export?key=*** failed: HTTP 200 response body over")
    assert f"max_response_bytes ({DEFAULT_MAX_RESPONSE_BYTES:,} bytes)" in str(error)
    assert "Content-Length is 100,000,000,000" in str(error) and key not in str(error)


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_chunked_body_fails_as_soon_as_it_passes_the_cap(serving, client: str):
    server = serving(endless_chunks)
    cap = 1 << 20
    with pytest.raises(ResponseTooLarge) as raised:
        get_once(client, server.url, "/stream", max_response_bytes=cap)
    said = re.fullmatch(
        r"GET /stream failed: .*\(1,048,576 bytes\): stopped reading at ([0-9,]+) bytes", str(raised.value)
    )
    assert said, str(raised.value)
    # The client held at most the cap and a read or two more; the server got more out than that
    # (what socket buffers took), and would have gone on for ever.
    assert cap < int(said[1].replace(",", "")) <= 2 * cap and server.sent > cap


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_compressed_body_is_capped_as_it_unpacks(serving, client: str):
    server = serving(gzip_bomb)
    with pytest.raises(ResponseTooLarge, match="stopped reading at"):
        get_once(client, server.url, "/bomb", max_response_bytes=1 << 20)
    assert len(get_once(client, server.url, "/bomb", max_response_bytes=None).content) == 5 << 20


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_body_within_the_cap_and_a_head_of_a_large_one_are_read(raw: RawServer, client: str):
    assert get_once(client, raw.url, "/chunked", max_response_bytes=12).text == "hello, world"
    assert get_once(client, raw.url, "/plain", max_response_bytes=8).json() == {"a": 1}
    with pytest.raises(ResponseTooLarge, match="Content-Length is 8"):
        get_once(client, raw.url, "/plain", max_response_bytes=7)


# --- proxies from the environment -------------------------------------------------------------


async def proxy(server: AsyncioServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """A forward proxy that answers every request itself, and refuses every CONNECT."""
    head = await reader.readuntil(b"\r\n\r\n")
    server.seen = [*getattr(server, "seen", []), head.split(b"\r\n", 1)[0].decode()]
    if head.startswith(b"CONNECT"):
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    else:
        writer.write(ok(b'{"via": "proxy"}', b"Content-Type: application/json"))
    await writer.drain()


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_proxy_in_the_environment_is_used_unless_no_proxy_names_the_host(
    serving, raw: RawServer, monkeypatch: pytest.MonkeyPatch, client: str
):
    via = serving(proxy)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", via.url)
    assert get_once(client, "http://api.example.invalid", "/items").json() == {"via": "proxy"}
    assert via.seen == ["GET http://api.example.invalid/items HTTP/1.1"]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert get_once(client, raw.url, "/plain").json() == {"a": 1}
    assert len(via.seen) == 1


def test_an_https_request_goes_through_the_proxy_in_a_tunnel(serving, monkeypatch: pytest.MonkeyPatch):
    via = serving(proxy)
    monkeypatch.setenv("HTTPS_PROXY", via.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(HttpError, match="ProxyError"):
        get_once("async", "https://api.example.invalid", "/items")
    assert via.seen == ["CONNECT api.example.invalid:443 HTTP/1.1"]
