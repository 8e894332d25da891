"""``async def`` tasks (and StageOne) are awaited, under their time limits."""

import time

from integrations_pipeline.testing import run_integration
from integrations_tests.framework.execution.stage_one import entry_with_start

ENTRY = entry_with_start(
    "feed",
    """
    async def start(self):
        await asyncio.sleep(0)
        return {"token": "from-async-stage-one"}
    """,
    imports="import asyncio",
)

COLLECTORS = """
import asyncio
from pathlib import Path

from integrations_pipeline.sdk import TaskContext, task


@task(name="fetch_feed", type="collector")
async def fetch_feed(self, ctx: TaskContext):
    items = await asyncio.gather(*(asyncio.sleep(0, result=n) for n in range(3)))
    ctx.add_log(f"fetched {len(items)} with {ctx.base('token')}")
    return {"data": {"items": items}, "message": "fetched"}


@task(name="stuck_feed", type="collector")
async def stuck_feed(self, ctx: TaskContext):
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        Path(ctx.config["marker"]).write_text("cancelled")
        raise
    return {"data": {}}
"""

INSIGHTS = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="feed_short", type="insight")
async def feed_short(self, ctx: TaskContext):
    items = ctx.get_data("fetch_feed")["items"]
    return {"violation": len(items) < 5, "data": {"count": len(items)}, "message": f"{len(items)} items"}
"""


def test_async_tasks_and_stage_one_are_awaited_and_a_stuck_one_is_cancelled_at_task_timeout(
    make_project, tmp_path
):
    files = {"entry.py": ENTRY, "collectors/feed.py": COLLECTORS, "insights/short.py": INSIGHTS}
    project = make_project({"feed": {"files": files}})
    marker = tmp_path / "cancelled.txt"
    started = time.monotonic()
    result = run_integration("feed", {"marker": str(marker)}, task_timeout=2, project=project)
    assert time.monotonic() - started < 30
    fetched = result["fetch_feed"]
    assert fetched.status == "succeeded", fetched.error
    assert fetched.data == {"items": [0, 1, 2]} and fetched.logs == ["fetched 3 with from-async-stage-one"]
    short = result["feed_short"]
    assert short.status == "succeeded" and short.violation and short.message == "3 items"
    stuck = result["stuck_feed"]
    assert stuck.status == "failed"
    assert "task 'stuck_feed': timed out after 2 s (task_timeout); the task was cancelled" in stuck.error
    assert marker.read_text() == "cancelled"
