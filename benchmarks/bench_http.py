"""The async HTTP toolkit against a sequential loop and the latency limit. Prints; asserts nothing.

A local server (its own process, asyncio, HTTP/1.1 keep-alive) answers every request 20 ms
after it arrived with a page of 10 records. 1,000 pages are fetched:

- sequentially, with a plain ``httpx.Client`` loop (the baseline);
- by 50 keep-alive connections on asyncio streams, no HTTP library (the floor here);
- by one ``aiohttp.ClientSession``, a worker per connection (the floor of a client on aiohttp);
- by ``AsyncHttpClient`` alone, ``max_concurrency=50`` (the bare toolkit, on aiohttp);
- by a collector task using ``ctx.async_http(..., max_concurrency=50)`` in a throwaway
  integration run with ``run_integration``, as a user runs it.

The latency limit is 1,000 x 20 ms / 50 = 0.4 s. Medians of several rounds; the client's CPU
(this process's, the server runs in its own) per 1,000 requests. Each sample starts after a
full garbage collection (see ``timed``). Targets for the toolkit:
at most 1.15 x the latency limit, at most 0.25 s of CPU per 1,000 requests.

Usage: python benchmarks/bench_http.py [--rounds N]
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_framework import ENTRY  # noqa: E402
from integrations_pipeline.sdk import ApiKeyAuth, AsyncHttpClient  # noqa: E402

PAGES = 1_000
RECORDS_PER_PAGE = 10
LATENCY = 0.020
CONCURRENCY = 50
LIMIT = PAGES * LATENCY / CONCURRENCY
LIMIT_TARGET = 1.15  # the toolkit at most this many times the latency limit
CPU_TARGET = 0.25  # seconds of the client's CPU per 1,000 requests
API_KEY = "bench-http-key-0123456789"
NAME = "bench_http"


# --- the server -------------------------------------------------------------------------------


def page_body(page: int) -> bytes:
    first = page * RECORDS_PER_PAGE
    records = [
        {"id": n, "name": f"item-{n}", "owner": f"team-{n % 7}", "size": n * 3, "public": n % 2 == 0}
        for n in range(first, first + RECORDS_PER_PAGE)
    ]
    return json.dumps(records).encode()


def _response(status: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


class _PageServer(asyncio.Protocol):
    """Minimal HTTP/1.1 with keep-alive: GET /pages/<n>, answered LATENCY after it arrived.

    The pages are encoded once, at start: the server's own work per request would otherwise
    delay every answer of a burst of 50 behind the others, and count against the client.
    """

    pages: dict[bytes, bytes] = {}
    missing = _response(b"404 Not Found", b'{"error": "no such page"}')

    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        self.transport = transport
        self.buffer = b""
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        arrived = self.loop.time()
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1]
            answer = self.pages.get(path.rsplit(b"/", 1)[-1], self.missing)
            self.loop.call_at(arrived + LATENCY, self.answer, answer)

    def answer(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)


async def _serve() -> None:
    _PageServer.pages = {b"%d" % page: _response(b"200 OK", page_body(page)) for page in range(PAGES)}
    server = await asyncio.get_running_loop().create_server(_PageServer, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def serve() -> None:
    """Run the server (on uvloop when installed, so that it is never the bottleneck)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve())
    else:
        uvloop.run(_serve())


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The server in its own process (its CPU is not the client's); returns it and its URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


# --- the clients ------------------------------------------------------------------------------


def sequential(base_url: str) -> int:
    """The baseline: a plain httpx loop, one page after the other."""
    records: list[Any] = []
    with httpx.Client(base_url=base_url, headers={"X-API-Key": API_KEY}) as client:
        for page in range(PAGES):
            response = client.get(f"/pages/{page}")
            response.raise_for_status()
            records.extend(response.json())
    return len(records)


async def _toolkit(base_url: str) -> int:
    async with AsyncHttpClient(base_url, auth=ApiKeyAuth(API_KEY), max_concurrency=CONCURRENCY) as api:
        responses = await api.get_many([f"/pages/{page}" for page in range(PAGES)])
    return len([record for response in responses for record in response.json()])


def toolkit(base_url: str) -> int:
    """The bare toolkit: AsyncHttpClient.get_many, as the collector below uses it."""
    return asyncio.run(_toolkit(base_url))


async def _raw(base_url: str) -> int:
    url = httpx.URL(base_url)
    pages = iter(range(PAGES))
    records: list[Any] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(url.host, url.port)
        for page in pages:  # shared: each connection takes the next page
            writer.write(b"GET /pages/%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (page, url.host.encode()))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            records.extend(json.loads(await reader.readexactly(length)))
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    return len(records)


def raw(base_url: str) -> int:
    """The floor here: 50 keep-alive connections on asyncio streams, no HTTP library."""
    return asyncio.run(_raw(base_url))


COLLECTOR = """import asyncio

from integrations_pipeline.sdk import ApiKeyAuth, TaskContext, task


async def fetch(ctx: TaskContext, pages: int) -> list:
    auth = ApiKeyAuth(ctx.base("api_key"))
    async with ctx.async_http(ctx.base("base_url"), auth=auth, max_concurrency={concurrency}) as api:
        responses = await api.get_many([f"/pages/{{page}}" for page in range(pages)])
    return [record for response in responses for record in response.json()]


@task(name="fetch_pages", title="Fetch pages")
def fetch_pages(self, ctx: TaskContext):
    records = asyncio.run(fetch(ctx, ctx.config["pages"]))
    return {{"data": records, "message": f"{{len(records)}} records"}}
"""
SCHEMA = {
    "type": "object",
    "required": ["api_key", "base_url"],
    "properties": {
        "api_key": {"type": "string", "writeOnly": True},
        "base_url": {"type": "string"},
        "pages": {"type": "integer", "default": PAGES},
    },
}


def write_project(root: Path, name: str, schema: dict[str, Any], collector: str) -> Path:
    """A throwaway project (a package of its own) with one integration of one collector."""
    folder = root / "integrations" / name
    for sub in ("collectors", "insights"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "__init__.py").write_text("")
    for package in (root, root / "integrations", folder):
        (package / "__init__.py").write_text("")
    (folder / "entry.py").write_text(ENTRY.format(name=name))
    (folder / "collectors" / "collect.py").write_text(collector)
    (root / "integrations.json").write_text(json.dumps([{"name": name, "title": name, "schema": schema}]))
    return root


def collector_run(base_url: str, project: Path, pages: int) -> tuple[float, int]:
    """Run the throwaway integration; (the collector task's own duration, records)."""
    from integrations_pipeline.testing import run_integration

    config = {"api_key": {"env": "BENCH_HTTP_API_KEY"}, "base_url": base_url, "pages": pages}
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):  # Dagster's event log
        result = run_integration(NAME, config, project=project)
    outcome = result["fetch_pages"]
    assert result.success, result.errors
    return outcome.duration, len(outcome.data)


# --- measuring --------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, this process's CPU seconds, value) of ``fn()``.

    After a full garbage collection: one that the samples before made due (a Dagster run
    leaves 100,000 objects behind) would otherwise land in whichever sample comes next, and
    cost it 0.2 s.
    """
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - started, time.process_time() - cpu, value


async def _aiohttp_alone(base_url: str) -> int:
    pages = iter(range(PAGES))
    records: list[Any] = []
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def worker() -> None:
            for page in pages:  # shared: each worker takes the next page
                async with session.get(f"/pages/{page}", headers={"X-API-Key": API_KEY}) as response:
                    response.raise_for_status()
                    records.extend(json.loads(await response.read()))

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(records)


def aiohttp_alone(base_url: str) -> int:
    """One aiohttp.ClientSession, a worker per connection: the floor of a client on aiohttp."""
    return asyncio.run(_aiohttp_alone(base_url))


def measure(rounds: int, base_url: str, project: Path) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = defaultdict(list)
    expected = PAGES * RECORDS_PER_PAGE

    def sample(key: str, fn: Callable[[], int], keep: bool) -> None:
        seconds, cpu, count = timed(fn)
        assert count == expected, f"{key}: {count} records"
        if keep:
            samples[key].append(seconds)
            samples[f"{key} cpu"].append(cpu)

    for round_ in range(rounds + 1):  # the first round warms up and is not counted
        sample("raw", lambda: raw(base_url), bool(round_))
        sample("aiohttp", lambda: aiohttp_alone(base_url), bool(round_))
        sample("toolkit", lambda: toolkit(base_url), bool(round_))
        run_s, _, (task_s, count) = timed(lambda: collector_run(base_url, project, PAGES))
        assert count == expected, f"collector: {count} records"
        empty_s, _, _ = timed(lambda: collector_run(base_url, project, 0))
        if round_:
            samples["task"].append(task_s)
            samples["run"].append(run_s)
            samples["empty run"].append(empty_s)
            # The slow baseline (~21 s a round) runs only in counted rounds.
            sample("sequential", lambda: sequential(base_url), True)
    return samples


def report(samples: dict[str, list[float]], rounds: int) -> None:
    median = {k: statistics.median(v) for k, v in samples.items()}
    sequential_s = median["sequential"]
    per_1000 = 1000 / PAGES
    print(
        f"{PAGES} pages, {LATENCY * 1000:.0f} ms latency each, max_concurrency {CONCURRENCY}; "
        f"latency limit {LIMIT:.2f} s; median of {rounds} rounds"
    )
    print(f"  {'client':42} {'time':>9} {'CPU/1,000 req':>14} {'sequential / it':>16} {'it / limit':>11}")
    for key, label in (
        ("sequential", "sequential httpx.Client loop"),
        ("raw", "asyncio streams, no HTTP library (floor)"),
        ("aiohttp", "aiohttp.ClientSession alone (its floor)"),
        ("toolkit", "AsyncHttpClient alone"),
        ("task", "collector task in run_integration"),
    ):
        seconds = median[key]
        cpu_s = median.get(key + " cpu")
        cpu = f"{cpu_s * per_1000:12.3f} s" if cpu_s is not None else f"{'-':>14}"
        speedup, over = sequential_s / seconds, seconds / LIMIT
        verdict = ""
        if key in ("toolkit", "task"):
            verdict = (
                f"sequential target {'met' if speedup >= 20 else 'MISSED'}, "
                f"limit target {'met' if over <= LIMIT_TARGET else 'MISSED'}"
            )
        if key == "toolkit" and cpu_s is not None:
            verdict += f", CPU target {'met' if cpu_s * per_1000 <= CPU_TARGET else 'MISSED'}"
        print(f"  {label:42} {seconds:7.3f} s {cpu} {speedup:16.1f} {over:11.2f}  {verdict}")
    print(
        f"  targets: sequential / it >= 20, it / limit <= {LIMIT_TARGET}, "
        f"the toolkit's CPU <= {CPU_TARGET} s per 1,000 requests"
    )
    walls, cpus = samples["toolkit"], samples["toolkit cpu"]
    print(
        "  AsyncHttpClient each round: "
        + ", ".join(f"{w / LIMIT:.2f}x / {c * per_1000:.3f} s" for w, c in zip(walls, cpus, strict=True))
    )
    print(
        f"  whole run_integration: {median['run']:.2f} s, of which a run with an empty collector "
        f"{median['empty run']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server, base_url = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
            os.environ["INTEGRATIONS_HOME"] = str(Path(tmp) / "integrations-home")
            os.environ["BENCH_HTTP_API_KEY"] = API_KEY
            project = write_project(
                Path(tmp) / "bench_http_project", NAME, SCHEMA, COLLECTOR.format(concurrency=CONCURRENCY)
            )
            report(measure(args.rounds, base_url, project), args.rounds)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
