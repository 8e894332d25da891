"""The HTTP toolkit's retries and backoffs show in the run's event log, for the step of the
task that made the request, without secrets."""

import pytest

from integrations_pipeline.testing import run_integration, secret_leaks
from integrations_tests.framework.http.test_client import Server

KEY = "feed-key/4f9a+c2=="  # percent-encoded in the query it travels in

COLLECTORS = """
from urllib.parse import quote

from integrations_pipeline.sdk import ApiKeyAuth, RetryPolicy, TaskContext, task

FAST = RetryPolicy(attempts=4, backoff=0.01, jitter=False)


@task(name="fetch_sync", type="collector")
def fetch_sync(self, ctx: TaskContext):
    key = quote(ctx.config["api_key"], safe="")
    with ctx.http(ctx.config["url"], retry=FAST) as api:  # the key in the URLs it logs
        return {"data": [api.get(f"/limited?key={key}").json(), api.get(f"/flaky?key={key}").json()]}


@task(name="fetch_async", type="collector")
async def fetch_async(self, ctx: TaskContext):
    auth = ApiKeyAuth(ctx.config["api_key"], query="key")
    async with ctx.async_http(ctx.config["url"], auth=auth, retry=FAST) as api:
        return {"data": [(await api.get("/limited")).json(), (await api.get("/flaky")).json()]}
"""

SCHEMA = {
    "type": "object",
    "properties": {"url": {"type": "string"}, "api_key": {"type": "string", "writeOnly": True}},
}


@pytest.fixture
def feed():
    """429 with Retry-After: 1 then OK on /limited, 502 then OK on /flaky, 500 on /broken."""
    server = Server()
    yield server
    server.close()


@pytest.mark.parametrize("task, query", [("fetch_sync", "?key=***"), ("fetch_async", "")])
def test_retries_and_backoffs_are_in_the_event_log_of_their_step(
    make_project, feed, capfd, caplog, task, query
):
    project = make_project({"feed": {"schema": SCHEMA, "files": {"collectors/fetch.py": COLLECTORS}}})
    result = run_integration("feed", {"url": feed.url, "api_key": KEY}, tasks=[task], project=project)
    assert result.success, result.errors
    assert feed.hits == {"/limited": 2, "/flaky": 2}
    step = [entry.user_message for entry in result.event_log if entry.step_key == f"feed__{task}"]
    lines = [message for message in step if "http: GET" in message]
    assert lines == [
        f"[{task}] http: GET /limited{query}: HTTP 429; retry 1 in 1.00 s as the server asked "
        "(Retry-After or rate-limit reset)",
        f"[{task}] http: GET /flaky{query}: HTTP 502; retry 1 in 0.01 s",
    ], step
    assert result[task].logs == [line.removeprefix(f"[{task}] ") for line in lines]
    assert not secret_leaks(result, [KEY], caplog.text, *capfd.readouterr())


STUCK = """
import time

from integrations_pipeline.sdk import RetryPolicy, TaskContext, task


@task(name="retry_forever", type="collector", order=1)
def retry_forever(self, ctx: TaskContext):
    retry = RetryPolicy(attempts=100, backoff=0.05, max_backoff=0.05, jitter=False)
    with ctx.http(ctx.config["url"], retry=retry) as api:
        return {"data": api.get("/broken").json()}


@task(name="list_after", type="collector", order=2)
def list_after(self, ctx: TaskContext):
    time.sleep(1)  # while the abandoned task above goes on retrying
    return {"data": []}
"""


def test_a_timed_out_task_goes_on_retrying_in_its_own_log_not_the_next_tasks(make_project):
    down = Server()
    try:
        project = make_project({"stuck": {"files": {"collectors/fetch.py": STUCK}}})
        result = run_integration("stuck", {"url": down.url}, task_timeout=2, project=project)
    finally:
        down.close()
    assert result["retry_forever"].status == "failed" and "timed out" in result["retry_forever"].error
    stuck_lines = [e.user_message for e in result.event_log if e.step_key == "stuck__retry_forever"]
    assert any("http: GET /broken: HTTP 500; retry 1 in 0.05 s" in line for line in stuck_lines), stuck_lines
    assert result["list_after"].status == "succeeded" and result["list_after"].logs == []
    assert not [
        e for e in result.event_log if e.step_key == "stuck__list_after" and "http:" in e.user_message
    ]


STAGE_ONE = """
from urllib.parse import quote

from integrations_pipeline.sdk import BaseRunner, HttpClient, RetryPolicy, register_tasks

FAST = RetryPolicy(attempts=4, backoff=0.01, jitter=False)


class Runner(BaseRunner):
    name = "feed"

    def __init__(self, config):
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        def start(self):
            key = quote(self.config["api_key"], safe="")
            with HttpClient(self.config["url"], retry=FAST) as api:
                return {"flaky": api.get(f"/flaky?key={key}").json()}

    class StageTwo(BaseRunner.StageTwo):
        pass
"""
COLLECTOR = """
from integrations_pipeline.sdk import task


@task(name="c")
def c(self, ctx):
    return {"data": []}
"""


def test_stage_ones_retries_are_in_the_event_log_too(make_project, feed, capfd, caplog):
    files = {"collectors/c.py": COLLECTOR, "entry.py": STAGE_ONE}
    project = make_project({"feed": {"schema": SCHEMA, "files": files}})
    result = run_integration("feed", {"url": feed.url, "api_key": KEY}, project=project)
    assert result.success, result.errors
    lines = [e.user_message for e in result.event_log if "http: GET" in (e.user_message or "")]
    assert lines == ["http: GET /flaky?key=***: HTTP 502; retry 1 in 0.01 s"]
    assert not secret_leaks(result, [KEY], caplog.text, *capfd.readouterr())
