"""The async client's HTTP/1.1 transport against a raw socket server that answers byte for byte."""

import asyncio
import gzip
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from integrations_pipeline.http.client import AsyncHttpClient, HttpError, RetryPolicy
from integrations_pipeline.http.transport import AsyncHttp11Transport

FAST = RetryPolicy(attempts=3, backoff=0.01, jitter=False)


def ok(body: bytes, *headers: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body) + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + body


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
}


class RawServer:
    """Answers requests on 127.0.0.1 with ROUTES; counts connections and requests."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.requests: list[tuple[bytes, bytes, bytes]] = []  # (method, path, body)
        self.idle_close = False  # close every connection after its first answer, without saying so
        self.drop_reused = False  # close, unanswered, a connection's second request (a keep-alive race)
        self.dropped = 0
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


def fetch(url: str, *paths: str, method: str = "GET", **kwargs) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        async with AsyncHttpClient(url, **{"retry": FAST, **kwargs}) as api:
            return [await api.request(method, path) for path in paths]

    return asyncio.run(go())


def test_keeps_connections_alive_and_reads_every_kind_of_body(raw: RawServer):
    responses = fetch(raw.url, "/plain", "/chunked", "/no-content", "/early-hints", "/gzip", "/plain")
    assert responses[0].json() == {"a": 1} and responses[0].http_version == "HTTP/1.1"
    assert responses[1].text == "hello, world"
    assert (responses[2].status_code, responses[2].content) == (204, b"")
    assert (responses[3].status_code, responses[3].text) == (200, "final")
    assert responses[4].text == "unzipped"
    assert raw.connections == 1  # all six on one kept-alive connection


def test_a_body_until_close_and_connection_close_and_http10_each_end_their_connection(raw: RawServer):
    responses = fetch(raw.url, "/until-close", "/close", "/http10", "/plain")
    assert [r.text for r in responses[:3]] == ["all of it, then EOF", "bye", "ok"]
    assert raw.connections == 4


def test_head_has_no_body_and_post_sends_its_json(raw: RawServer):
    [head] = fetch(raw.url, "/plain", method="HEAD")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "8")

    async def post() -> httpx.Response:
        async with AsyncHttpClient(raw.url) as api:
            return await api.request("POST", "/echo", json={"k": "v"})

    assert json.loads(asyncio.run(post()).content) == {"k": "v"}
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


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/garbage", "malformed response status line"),
        ("/truncated", "the server closed the connection before"),
    ],
)
def test_a_broken_response_is_a_protocol_error_that_is_retried(raw: RawServer, path: str, error: str):
    with pytest.raises(HttpError, match=f"RemoteProtocolError: {error}"):
        fetch(raw.url, path)
    assert len(raw.requests) == FAST.attempts


def test_timeouts_and_refused_connections_are_httpx_errors(raw: RawServer):
    with pytest.raises(HttpError, match="ReadTimeout"):
        fetch(raw.url, "/slow", timeout=0.2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(HttpError, match="ConnectError"):
        fetch(f"http://127.0.0.1:{free}", "/plain")


def test_max_connections_bounds_the_open_connections(raw: RawServer):
    async def many() -> None:
        transport = AsyncHttp11Transport(ssl_context=ssl.create_default_context(), max_connections=3)
        async with httpx.AsyncClient(base_url=raw.url, transport=transport) as client:
            await asyncio.gather(*(client.get("/slow") for _ in range(6)))

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


def test_bytes_beyond_a_response_keep_its_connection_out_of_the_pool(raw: RawServer):
    first, second = fetch(raw.url, "/extra-bytes", "/plain")
    assert (first.text, second.json()) == ("ok", {"a": 1})
    assert raw.connections == 2


def test_a_streamed_request_body_goes_with_a_content_length(raw: RawServer):
    async def chunks():
        yield b"hello"
        yield b"world"

    async def go() -> httpx.Response:
        transport = AsyncHttp11Transport(ssl_context=ssl.create_default_context())
        async with httpx.AsyncClient(base_url=raw.url, transport=transport) as client:
            return await client.post("/echo", content=chunks())

    assert asyncio.run(go()).content == b"helloworld"


def test_cr_or_lf_in_a_header_is_refused_before_sending(raw: RawServer):
    async def go() -> None:
        transport = AsyncHttp11Transport(ssl_context=ssl.create_default_context())
        async with httpx.AsyncClient(base_url=raw.url, transport=transport) as client:
            await client.get("/plain", headers={"X-A": "v\r\nX-Injected: yes"})

    with pytest.raises(httpx.LocalProtocolError):
        asyncio.run(go())
    assert raw.requests == []


def test_closing_the_client_closes_its_idle_connections(raw: RawServer):
    async def go() -> AsyncHttp11Transport:
        transport = AsyncHttp11Transport(ssl_context=ssl.create_default_context())
        async with httpx.AsyncClient(base_url=raw.url, transport=transport) as client:
            await client.get("/plain")
            assert sum(len(idle) for idle in transport._idle.values()) == 1
        return transport

    assert asyncio.run(go())._idle == {}


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/negative-length", "bad Content-Length"),
        ("/two-lengths", "bad Content-Length"),
        ("/hex-prefix", "bad chunk size"),
        ("/switching", "unexpected 101"),
        ("/bad-status", "malformed response status line"),
    ],
)
def test_responses_that_cannot_be_framed_for_certain_are_protocol_errors(
    raw: RawServer, path: str, error: str
):
    with pytest.raises(HttpError, match=f"RemoteProtocolError: {error}"):
        fetch(raw.url, path, retry=RetryPolicy(attempts=1))


def test_a_folded_header_is_one_value(raw: RawServer):
    [response] = fetch(raw.url, "/folded")
    assert response.headers["x-long"] == "part1 part2"


def test_the_read_timeout_applies_to_each_read_not_the_whole_response(raw: RawServer):
    [response] = fetch(raw.url, "/trickle", timeout=0.6)  # 1.5 s in all, 0.15 s between bytes
    assert response.content == b"x" * 10
