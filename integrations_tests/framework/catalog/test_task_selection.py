"""The config's ``tasks``: an insight runs only with every collector it reads or asks
``ctx.succeeded()`` about, so no finding ever comes from collectors that were left out."""

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration

FETCH = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="fetch_feed", type="collector")
def fetch_feed(self, ctx: TaskContext):
    return {"data": {"items": 3}}


@task(name="fetch_archive", type="collector")
def fetch_archive(self, ctx: TaskContext):
    return {"data": {"items": 1}}
"""

HEALTHY = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="feed_healthy", type="insight", severity="high")
def feed_healthy(self, ctx: TaskContext):
    healthy = ctx.succeeded("fetch_feed")
    return {"violation": not healthy, "data": {}, "message": f"feed fetched: {healthy}"}


@task(name="archive_named_late", type="insight")
def archive_named_late(self, ctx: TaskContext):
    name = "_".join(["fetch", "archive"])  # a name the code computes: not read off it
    return {"violation": not ctx.succeeded(name), "data": {}}
"""


def feed_project(make_project):
    return make_project({"feed": {"files": {"collectors/fetch.py": FETCH, "insights/healthy.py": HEALTHY}}})


def test_an_insight_asking_succeeded_about_unselected_collectors_is_refused_until_they_are_selected(
    make_project,
):
    project = feed_project(make_project)
    result = run_integration("feed", {}, tasks=["feed_healthy"], project=project)
    assert not result.success
    expected = (
        "config field 'tasks' names 'feed_healthy' but not 'fetch_feed', whose success it asks about; "
        "add them so it can run"
    )
    assert any(expected in error for error in result.errors), result.errors
    assert all(outcome.status == "skipped" for outcome in result.tasks.values())
    assert get_store().list_findings(integration="feed") == []

    result = run_integration("feed", {}, tasks=["fetch_feed", "feed_healthy"], project=project)
    assert result.success, result.errors
    assert result["feed_healthy"].status == "succeeded" and not result["feed_healthy"].violation
    assert result["fetch_archive"].status == "skipped"


def test_a_computed_name_of_an_unselected_collector_fails_the_insight_instead_of_a_finding(make_project):
    result = run_integration(
        "feed", {}, tasks=["fetch_feed", "archive_named_late"], project=feed_project(make_project)
    )
    late = result["archive_named_late"]
    assert late.status == "failed"
    assert (
        "asked whether 'fetch_archive' succeeded, but the config's 'tasks' does not select it" in late.error
    )
    assert get_store().list_findings(integration="feed") == []
