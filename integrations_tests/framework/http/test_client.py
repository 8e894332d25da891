"""The HTTP toolkit against a real HTTP server on loopback."""

import asyncio
import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from yarl import URL

from integrations_pipeline.http.client import (
    MAX_ERROR_BODY,
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

FAST = RetryPolicy(attempts=4, backoff=0.01, jitter=False)
ITEMS = list(range(23))


class Server:
    """Routes: /flaky (502 then ok), /limited (429 Retry-After: 1 then ok), /slow, /echo, paginations."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with server.lock:
                    server.hits[url.path] = server.hits.get(url.path, 0) + 1
                    hits = server.hits[url.path]
                    server.requests.append({"path": url.path, "query": query, "headers": dict(self.headers)})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self.route(url.path, query, hits)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers)})
                self.reply(200, {"method": "POST", "body": body.decode(), "headers": dict(self.headers)})

            def route(self, path: str, query: dict, hits: int) -> None:
                if path == "/flaky" and hits == 1:
                    return self.reply(502, {"error": "bad gateway"})
                if path == "/limited" and hits == 1:
                    return self.reply(429, {"error": "slow down"}, {"Retry-After": "1"})
                if path == "/ratelimited" and hits == 1:
                    reset = str(int(time.time()) + 2)
                    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
                    return self.reply(403, {"message": "API rate limit exceeded"}, headers)
                if path == "/secondary" and hits == 1:
                    body = {"message": "You have exceeded a secondary rate limit"}
                    return self.reply(403, body, {"Retry-After": "1"})
                if path == "/flaky-ratelimit" and hits == 1:
                    headers = {
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(int(time.time()) + 3600),
                    }
                    return self.reply(503, {"message": "unavailable"}, headers)
                if path == "/forbidden":
                    pad = self.headers.get("X-Pad", "")
                    body = {
                        "pad": pad,
                        "message": "Must have admin rights",
                        "echo": self.headers.get("Authorization"),
                    }
                    return self.reply(403, body, {"X-Echo": self.headers.get("Authorization", "")})
                if path == "/far":
                    return self.reply(429, {"message": "come back tomorrow"}, {"Retry-After": "86400"})
                if path == "/broken":
                    return self.reply(500, {"error": "always"})
                if path == "/missing":
                    return self.reply(404, {"error": "no"})
                if path == "/slow":
                    time.sleep(0.2)
                if path == "/link":
                    page = int(query.get("page", 1))
                    headers = {}
                    if page * 10 < len(ITEMS):
                        headers["Link"] = f'<http://{self.headers["Host"]}/link?page={page + 1}>; rel="next"'
                    return self.reply(200, ITEMS[(page - 1) * 10 : page * 10], headers)
                if path == "/cursor":
                    start = int(query.get("cursor", 0))
                    nxt = start + 10 if start + 10 < len(ITEMS) else None
                    return self.reply(200, {"data": ITEMS[start : start + 10], "meta": {"next": nxt}})
                if path == "/pages":
                    page, size = int(query["page"]), int(query["per_page"])
                    return self.reply(200, ITEMS[(page - 1) * size : page * size])
                if path == "/offset":
                    offset, limit = int(query["offset"]), int(query["limit"])
                    return self.reply(200, {"results": ITEMS[offset : offset + limit]})
                if path == "/login":
                    return self.reply(200, {}, {"Set-Cookie": "session=s1; Path=/"})
                if path == "/moved":
                    return self.reply(302, {}, {"Location": "/echo?from=moved"})
                if path == "/bad-gzip":  # says gzip, is not; sets a cookie all the same
                    return self.reply(
                        200, "plain", {"Content-Encoding": "gzip", "Set-Cookie": "seen=1; Path=/"}
                    )
                return self.reply(
                    200,
                    {
                        "path": path,
                        "query": query,
                        "auth": self.headers.get("Authorization"),
                        "cookie": self.headers.get("Cookie"),
                    },
                )

            def reply(self, status: int, body: object, headers: dict | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def test_retries_5xx_and_honours_retry_after(server):
    with HttpClient(server.url, retry=FAST) as client:
        assert client.get("/flaky").json()["path"] == "/flaky"
        started = time.monotonic()
        assert client.get("/limited").status_code == 200
        assert time.monotonic() - started >= 0.9  # waited for Retry-After: 1
        with pytest.raises(HttpError, match=r"GET /broken failed: HTTP 500") as raised:
            client.get("/broken")
        assert raised.value.status_code == 500 and server.hits["/broken"] == FAST.attempts
        with pytest.raises(HttpError, match="HTTP 404"):
            client.get("/missing")
        assert server.hits["/missing"] == 1  # a 404 is not retried


def test_connection_errors_are_retried_then_reported_without_secrets():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth = ApiKeyAuth("sk-live-0123456789", header=None, query="api_key")
    with (
        HttpClient(f"http://127.0.0.1:{port}", auth=auth, retry=FAST) as client,
        pytest.raises(HttpError) as raised,
    ):
        client.get("/items")
    assert "ConnectError" in str(raised.value) and "sk-live-0123456789" not in str(raised.value)


def test_auth_schemes_and_secrets_never_in_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    with HttpClient(server.url, auth=BearerAuth("tok-abcdef123456"), retry=FAST) as client:
        assert client.get("/echo").json()["auth"] == "Bearer tok-abcdef123456"
        client.get("/flaky")
    with HttpClient(server.url, auth=BasicAuth("bob", "pw-secret-999"), retry=FAST) as client:
        assert client.get("/echo").json()["auth"].startswith("Basic ")
    with HttpClient(
        server.url, auth=ApiKeyAuth("key-xyz-98765", header=None, query="key"), retry=FAST
    ) as client:
        assert client.get("/echo").json()["query"] == {"key": "key-xyz-98765"}
        server.hits.pop("/limited", None)
        client.get("/limited")
    with HttpClient(server.url, auth=ApiKeyAuth("hdr-key-24680", header="X-Api-Key"), retry=FAST) as client:
        client.get("/echo")
    assert server.requests[-1]["headers"]["X-Api-Key"] == "hdr-key-24680"
    logged = caplog.text
    assert "retry 1" in logged
    for secret in ("tok-abcdef123456", "pw-secret-999", "key-xyz-98765"):
        assert secret not in logged


@pytest.mark.parametrize(
    ("path", "paginator", "items_path"),
    [
        ("/link", LinkHeaderPaginator(), None),
        ("/cursor", CursorPaginator(cursor_path="meta.next", param="cursor"), "data"),
        ("/pages", PageNumberPaginator(page_size=10), None),
        ("/offset", OffsetPaginator(limit=10), "results"),
    ],
)
def test_pagination(server, path, paginator, items_path):
    with HttpClient(server.url, retry=FAST) as client:
        pages = list(client.paginate(path, paginator, items_path=items_path))
    assert [item for page in pages for item in page] == ITEMS
    assert len(pages) in (3, 4)  # an empty last page for page-number pagination of 23 items by 10


def test_async_pagination_and_concurrency_limit(server):
    async def main():
        async with AsyncHttpClient(server.url, max_concurrency=3, retry=FAST) as client:
            pages = [page async for page in client.paginate("/link", LinkHeaderPaginator())]
            responses = await client.get_many(["/slow"] * 9)
            return pages, responses

    pages, responses = asyncio.run(main())
    assert [i for page in pages for i in page] == ITEMS
    assert all(r.status_code == 200 for r in responses)
    assert server.max_in_flight == 3  # concurrent, but never more than the limit


def test_rate_limit(server):
    with HttpClient(server.url, rate_limit=10, retry=FAST) as client:
        started = time.monotonic()
        for _ in range(6):
            client.get("/echo")
    assert time.monotonic() - started >= 0.45  # six requests at ten a second


def test_response_cache_with_ttl(server):
    with HttpClient(server.url, cache_ttl=0.5, retry=FAST) as client:
        client.get("/echo", params={"a": 1})
        client.get("/echo", params={"a": 1})
        client.get("/echo", params={"a": 2})
        assert server.hits["/echo"] == 2 and client.cache.hits == 1
        time.sleep(0.6)
        client.get("/echo", params={"a": 1})
        assert server.hits["/echo"] == 3


@pytest.mark.parametrize("path", ["/ratelimited", "/secondary"])
def test_a_403_that_says_when_to_come_back_is_a_rate_limit_and_retried(server: Server, path: str):
    with HttpClient(server.url, retry=RetryPolicy(attempts=3, backoff=0.01, jitter=False)) as api:
        started = time.monotonic()
        assert api.get(path).status_code == 200
    assert server.hits[path] == 2
    assert time.monotonic() - started >= 0.5  # it waited for the reset, not the 0.01 s backoff


def test_a_plain_403_is_not_retried_and_the_error_carries_the_api_message_without_secrets(server: Server):
    token = "tok-forbidden-secret-1234"
    with (
        HttpClient(server.url, auth=BearerAuth(token), retry=FAST) as api,
        pytest.raises(HttpError) as raised,
    ):
        api.get("/forbidden")
    error = raised.value
    assert server.hits["/forbidden"] == 1
    assert (error.status_code, error.api_message) == (403, "Must have admin rights")
    assert str(error).endswith("failed: HTTP 403 (Must have admin rights)")
    assert token not in error.body and token not in repr(error.headers)
    assert error.headers["x-echo"] == "Bearer ***"


def test_a_wait_longer_than_max_backoff_gives_up_at_once(server: Server):
    with HttpClient(server.url, retry=RetryPolicy(attempts=5, max_backoff=60)) as api:
        started = time.monotonic()
        with pytest.raises(HttpError, match=r"HTTP 429 \(asked to wait 86400 s, more than max_backoff\)"):
            api.get("/far")
    assert server.hits["/far"] == 1 and time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("base", "url", "path", "query"),
    [
        ("{url}", "/echo", "/echo", {}),
        ("{url}/api/", "echo", "/api/echo", {}),
        ("{url}/api", "/echo?next=http://elsewhere/x", "/api/echo", {"next": "http://elsewhere/x"}),
        ("{url}/api", "{url}/echo", "/echo", {}),
    ],
)
def test_relative_urls_join_the_base_url_as_httpx_joins_them(server: Server, base, url, path, query):
    with HttpClient(base.format(url=server.url)) as api:
        body = api.get(url.format(url=server.url), params={"x": "1"}).json()
    assert (body["path"], body["query"]) == (path, {**query, "x": "1"})


def test_cookies_a_server_sets_are_sent_back_by_the_async_client(server: Server):
    async def go() -> list[dict]:
        async with AsyncHttpClient(server.url) as api:
            before = (await api.get("/echo")).json()
            await api.get("/login")
            return [before, (await api.get("/echo")).json()]

    before, after = asyncio.run(go())
    assert (before["cookie"], after["cookie"]) == (None, "session=s1")


def test_a_secret_cut_by_the_error_body_limit_is_still_hidden(server: Server):
    token = "tok-straddles-the-cut-9876"
    with (
        HttpClient(server.url, auth=BearerAuth(token), retry=FAST) as api,
        pytest.raises(HttpError) as raised,
    ):
        # The token starts 65 characters after the padding: 10 before the cut, the rest after.
        api.get("/forbidden", headers={"X-Pad": "p" * (MAX_ERROR_BODY - 65 - 10)})
    assert "tok-" not in raised.value.body and token[:12] not in raised.value.body


def test_a_5xx_with_an_exhausted_rate_limit_header_is_retried_as_a_5xx(server: Server):
    with HttpClient(server.url, retry=FAST) as api:
        assert api.get("/flaky-ratelimit").status_code == 200
    assert server.hits["/flaky-ratelimit"] == 2


def test_the_cache_key_is_the_url_actually_requested(server: Server):
    with HttpClient(f"{server.url}/v1/", cache_ttl=60) as api:
        first = api.get("users").json()
        second = api.get("/v1/users").json()
    assert (first["path"], second["path"]) == ("/v1/users", "/v1/v1/users")


def test_a_proxy_in_the_environment_is_honoured_by_the_async_client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = AsyncHttpClient("https://example.invalid")
    # The proxy its requests to that URL go through (test_async_client.py sends some through one).
    assert client._proxy(URL("https://example.invalid/x"))["proxy"] == URL("http://127.0.0.1:9")
    asyncio.run(client.aclose())


def test_the_async_client_sends_as_httpx_sends_and_fills_the_response_as_httpx_does(server: Server):
    async def go() -> httpx.Response:
        async with AsyncHttpClient(server.url, headers={"User-Agent": "acme-collector/1"}) as api:
            return await api.request("POST", "/echo", json={"name": "ä"})

    response = asyncio.run(go())
    echoed = response.json()
    assert json.loads(echoed["body"]) == {"name": "ä"}
    headers = {key.lower(): value for key, value in echoed["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "acme-collector/1"  # ours replaces httpx's default
    assert headers["accept-encoding"].startswith("gzip") and headers["accept"] == "*/*"
    assert (response.request.method, response.request.url.path) == ("POST", "/echo")
    assert response.http_version == "HTTP/1.1" and response.reason_phrase == "OK"
    assert response.is_closed and response.elapsed.total_seconds() > 0


def test_the_async_client_logs_httpx_request_line_without_the_key(server: Server, caplog):
    caplog.set_level(logging.INFO, logger="httpx")

    async def go() -> None:
        async with AsyncHttpClient(
            server.url, auth=ApiKeyAuth("q-key-31415926", header=None, query="key")
        ) as api:
            await api.get("/echo")

    asyncio.run(go())
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert len(lines) == 1 and lines[0].startswith("HTTP Request: GET ") and '"HTTP/1.1 200 OK"' in lines[0]
    assert "q-key-31415926" not in caplog.text


def test_get_many_keeps_the_order_of_its_urls(server: Server):
    async def go() -> list[httpx.Response]:
        async with AsyncHttpClient(server.url, max_concurrency=4) as api:
            assert await api.get_many([]) == []
            return await api.get_many([f"/item-{n}" for n in range(30)])

    assert [response.json()["path"] for response in asyncio.run(go())] == [f"/item-{n}" for n in range(30)]


def test_get_many_stops_at_the_first_error_and_raises_it(server: Server):
    async def go() -> HttpError:
        async with AsyncHttpClient(server.url, max_concurrency=2, retry=FAST) as api:
            with pytest.raises(HttpError) as raised:
                await api.get_many(["/missing", *["/slow"] * 10])
            await asyncio.sleep(0.5)  # time for requests that were not stopped to go on
            return raised.value

    error = asyncio.run(go())
    assert error.status_code == 404
    assert server.hits["/slow"] <= 2  # the one under way when /missing failed, not the other nine


def test_the_async_client_offers_a_redirect_without_following_it(server: Server):
    async def go() -> httpx.Response:
        async with AsyncHttpClient(server.url) as api:
            return await api.get("/moved")

    response = asyncio.run(go())
    assert response.status_code == 302 and server.hits.get("/echo") is None
    assert response.next_request is not None and response.next_request.url == f"{server.url}/echo?from=moved"


def test_a_body_that_fails_to_decode_still_leaves_its_cookie_and_log_line(server: Server, caplog):
    caplog.set_level(logging.INFO, logger="httpx")

    async def go() -> AsyncHttpClient:
        async with AsyncHttpClient(server.url) as api:
            with pytest.raises(httpx.DecodingError):
                await api.get("/bad-gzip")
            return api

    api = asyncio.run(go())
    assert api.cookies.get("seen") == "1"
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 1 and lines[0].endswith('"HTTP/1.1 200 OK"')


def test_credentials_in_the_base_url_are_sent_and_never_logged(server: Server, caplog):
    caplog.set_level(logging.DEBUG)
    password = "url-pw-2718281828"
    base = server.url.replace("http://", f"http://alice:{password}@")

    async def go() -> dict:
        async with AsyncHttpClient(base) as api:
            return (await api.get("/echo")).json()

    sent = base64.b64decode(asyncio.run(go())["auth"].removeprefix("Basic ")).decode()
    assert sent == f"alice:{password}"
    with HttpClient(base) as api:
        assert api.get("/echo").json()["auth"] == f"Basic {base64.b64encode(sent.encode()).decode()}"
    assert "HTTP Request: GET" in caplog.text and password not in caplog.text


def test_a_closed_async_client_refuses_to_send(server: Server):
    async def go() -> None:
        api = AsyncHttpClient(server.url)
        await api.aclose()
        await api.get("/echo")

    with pytest.raises(RuntimeError, match="client has been closed"):
        asyncio.run(go())
    assert "/echo" not in server.hits


@pytest.mark.parametrize("client", ["sync", "async"])
def test_a_key_that_a_url_percent_encodes_is_still_kept_out_of_the_logs(server: Server, caplog, client: str):
    caplog.set_level(logging.DEBUG)
    key = "k3y/with+slash=and plus=="  # base64-like: the query carries it percent-encoded
    auth = ApiKeyAuth(key, header=None, query="key")
    if client == "sync":
        with HttpClient(server.url, auth=auth) as api:
            echoed = api.get("/echo").json()
    else:

        async def go() -> dict:
            async with AsyncHttpClient(server.url, auth=auth) as api:
                return (await api.get("/echo")).json()

        echoed = asyncio.run(go())
    assert echoed["query"] == {"key": key}
    assert "HTTP Request: GET" in caplog.text
    assert "k3y" not in caplog.text
