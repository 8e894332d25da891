"""The clients' credentials go to their base URL's origin only (issue 12): two loopback
servers on two ports are two origins; the second never sees a credential, the first does."""

import asyncio
import base64
import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations_pipeline.http.client import (
    ApiKeyAuth,
    AsyncHttpClient,
    BasicAuth,
    BearerAuth,
    HttpClient,
    HttpError,
    LinkHeaderPaginator,
)

SECRET = "s3cr3t-on-origin-4242"


class Origin:
    """A server that records every request as text; ``links`` and ``redirects`` map a path to
    the URL its ``Link: rel="next"`` or 302 points to."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.links: dict[str, str] = {}
        self.redirects: dict[str, str] = {}
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                origin.seen.append(f"{self.requestline}\n{self.headers}")
                path = self.path.split("?")[0]
                headers = {"Content-Type": "application/json", "Content-Length": "3"}
                if path in origin.redirects:
                    headers["Location"] = origin.redirects[path]
                elif path in origin.links:
                    headers["Link"] = f'<{origin.links[path]}>; rel="next"'
                self.send_response(302 if path in origin.redirects else 200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                # A client may have gone: get_many stopped by a refusal.
                with contextlib.suppress(ConnectionError):
                    self.wfile.write(b"[1]")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def saw_secret(self) -> list[bool]:
        """For each request received: whether the credential was in it, in any form."""
        encoded = base64.b64encode(f"user:{SECRET}".encode()).decode()
        return [SECRET in text or encoded in text for text in self.seen]


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    home, elsewhere = Origin(), Origin()
    yield home, elsewhere
    for server in (home, elsewhere):
        server.httpd.shutdown()
        server.httpd.server_close()


# Each kind of credential: (base URL with {url} for the home server's, the client's options).
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "bearer": ("{url}", {"auth": BearerAuth(SECRET)}),
    "api key header": ("{url}", {"auth": ApiKeyAuth(SECRET)}),
    "api key query": ("{url}", {"auth": ApiKeyAuth(SECRET, header=None, query="api_key")}),
    "basic": ("{url}", {"auth": BasicAuth("user", SECRET)}),
    "base URL": ("http://user:" + SECRET + "@{host}", {}),
    "authorization header": ("{url}", {"headers": {"Authorization": f"token {SECRET}"}}),
    "cookie header": ("{url}", {"headers": {"Cookie": f"session={SECRET}"}}),
    "proxy-authorization header": ("{url}", {"headers": {"Proxy-Authorization": f"Basic {SECRET}"}}),
    "header with a secret": ("{url}", {"headers": {"Private-Token": SECRET}, "secrets": [SECRET]}),
}


def client_options(kind: str, home: Origin) -> tuple[str, dict[str, Any]]:
    base, options = KINDS[kind]
    return base.format(url=home.url, host=home.url.removeprefix("http://")), dict(options)


def run(client: str, kind: str, home: Origin, steps: Any, **extra: Any) -> Any:
    """``steps(api)``, a list of calls, with a sync or an async client of ``kind``."""
    base, options = client_options(kind, home)
    if client == "sync":
        with HttpClient(base, **options, **extra) as api:
            return steps(api)

    async def go() -> Any:
        async with AsyncHttpClient(base, **options, **extra) as api:
            return await steps(api)

    return asyncio.run(go())


CLIENTS = ["sync", "async"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_paginate_follows_a_next_link_to_another_origin_without_the_credentials(client, kind, origins):
    home, elsewhere = origins
    home.links["/start"] = f"{home.url}/same"  # absolute, on the same origin
    home.links["/same"] = f"{elsewhere.url}/next"

    def sync(api: HttpClient) -> list:
        return list(api.paginate("/start", LinkHeaderPaginator()))

    async def async_(api: AsyncHttpClient) -> list:
        return [page async for page in api.paginate("/start", LinkHeaderPaginator())]

    pages = run(client, kind, home, sync if client == "sync" else async_)
    assert pages == [[1], [1], [1]]
    assert home.saw_secret() == [True, True]  # the next link on its origin has them too
    assert elsewhere.saw_secret() == [False]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_an_absolute_url_on_another_origin_gets_no_credentials(client, kind, origins):
    home, elsewhere = origins
    urls = [f"{home.url}/mine", f"{elsewhere.url}/theirs", "/relative"]

    def sync(api: HttpClient) -> list:
        return [api.get(url) for url in urls]

    async def async_(api: AsyncHttpClient) -> list:
        return [*await api.get_many(urls[:2]), await api.get(urls[2])]

    run(client, kind, home, sync if client == "sync" else async_)
    assert home.saw_secret() == [True, True] and elsewhere.saw_secret() == [False]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_a_redirect_is_not_followed_and_its_offered_request_elsewhere_has_no_credentials(
    client, kind, origins
):
    home, elsewhere = origins
    home.redirects["/moved"] = f"{elsewhere.url}/new"
    home.redirects["/here"] = f"{home.url}/new"

    def sync(api: HttpClient) -> list:
        moved, here = api.get("/moved"), api.get("/here")
        return [moved, here, api.get(str(moved.next_request.url)), api.get(str(here.next_request.url))]

    async def async_(api: AsyncHttpClient) -> list:
        moved, here = await api.get("/moved"), await api.get("/here")
        return [
            moved,
            here,
            await api.get(str(moved.next_request.url)),
            await api.get(str(here.next_request.url)),
        ]

    moved, here, *_ = run(client, kind, home, sync if client == "sync" else async_)
    assert (moved.status_code, here.status_code) == (302, 302)
    assert home.saw_secret() == [True, True, True]  # both redirects, then the one kept home
    assert elsewhere.saw_secret() == [False]  # only when asked: the client follows no redirect
    offered = "\n".join(f"{key}: {value}" for key, value in moved.next_request.headers.items())
    assert SECRET not in offered and base64.b64encode(f"user:{SECRET}".encode()).decode() not in offered


@pytest.mark.parametrize("kind", ["bearer", "api key query", "base URL"])
@pytest.mark.parametrize("client", CLIENTS)
def test_cross_origin_refuse_raises_naming_the_url_and_sends_nothing(client, kind, origins):
    home, elsewhere = origins
    home.links["/start"] = f"{elsewhere.url}/next?page=2"
    theirs = f"{elsewhere.url}/theirs"

    def sync(api: HttpClient) -> list:
        with pytest.raises(HttpError) as paging:
            list(api.paginate("/start", LinkHeaderPaginator()))
        with pytest.raises(HttpError) as getting:
            api.get(theirs)
        return [paging.value, getting.value]

    async def async_(api: AsyncHttpClient) -> list:
        with pytest.raises(HttpError) as paging:
            [page async for page in api.paginate("/start", LinkHeaderPaginator())]
        with pytest.raises(HttpError) as getting:
            await api.get_many(["/mine", theirs])
        return [paging.value, getting.value]

    paging, getting = run(client, kind, home, sync if client == "sync" else async_, cross_origin="refuse")
    assert str(paging).startswith(f"GET {elsewhere.url}/next?page=2 refused: not on the origin")
    assert str(getting).startswith(f"GET {theirs} refused") and "cross_origin='refuse'" in str(getting)
    assert SECRET not in str(paging) + str(getting)
    assert elsewhere.seen == [] and all(home.saw_secret())


@pytest.mark.parametrize("client", [HttpClient, AsyncHttpClient])
def test_credentials_need_a_base_url_and_cross_origin_is_strip_or_refuse(client):
    with pytest.raises(ValueError, match="needs a base_url"):
        client(auth=BearerAuth(SECRET))
    with pytest.raises(ValueError, match="needs a base_url"):
        client(headers={"Authorization": f"token {SECRET}"})
    with pytest.raises(ValueError, match="cross_origin must be 'strip' or 'refuse', not 'send'"):
        client("http://127.0.0.1:1", cross_origin="send")
    assert client().headers == {} and client("http://127.0.0.1:1").cross_origin == "strip"
