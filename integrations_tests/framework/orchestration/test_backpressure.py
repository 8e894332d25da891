"""Backpressure in the scheduler: a deployment with a run queued or running skips its new
slots; paused and removed deployments' queued runs are canceled; run-now passes the queue."""

import dagster as dg
import pytest

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.db.engine import utcnow
from integrations_pipeline.operations.deployments import Deployment, DeploymentStore
from integrations_pipeline.orchestration.sensors import evaluate_scheduler
from integrations_tests.conftest import case

GUIDE = case("guide")
SCHEMAS = {"guide_demo": load_catalog(GUIDE).integrations["guide_demo"].schema}
CONFIG = {"api_key": {"env": "GUIDE_DEMO_KEY"}}
QUEUED = {"run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}}


@dg.op
def nothing() -> None:
    pass


@dg.job
def placeholder() -> None:
    nothing()


def queue_run(instance: dg.DagsterInstance, deployment: str) -> str:
    """A run in Dagster's queue, as the daemon's sensor submits it (a queued run has an origin)."""
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )

    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("integrations_pipeline"), "__repository__"),
        "placeholder",
    )
    tags = {"deployment": deployment, "integration": "guide_demo"}
    run = instance.create_run_for_job(
        placeholder, status=dg.DagsterRunStatus.QUEUED, tags=tags, remote_job_origin=origin
    )
    return run.run_id


@pytest.fixture
def store(database_url):
    store = DeploymentStore(database_url)
    catalog = load_catalog(GUIDE)
    for name, paused in (("acme", False), ("globex", False), ("initech", True)):
        store.add(Deployment(name, "guide_demo", CONFIG, schedule="* * * * *", paused=paused), catalog)
    return store


def test_a_busy_deployment_skips_its_slot_and_run_now_passes_the_queue(store):
    with dg.instance_for_test(overrides=QUEUED) as instance:
        queue_run(instance, "acme")
        token = store.request_run("acme")
        result = evaluate_scheduler(instance, SCHEMAS, [], None, now=utcnow(), store=store)
        by_deployment = {
            (r.tags["deployment"], r.tags["integrations/trigger"]): r for r in result.run_requests
        }
        # acme's slot is skipped (its run is still queued); globex's is not; acme's run-now is.
        assert set(by_deployment) == {("globex", "schedule"), ("acme", "manual")}
        assert by_deployment[("acme", "manual")].run_key == f"acme:manual:{token}"
        assert by_deployment[("acme", "manual")].tags["dagster/priority"] == "10"
        assert "dagster/priority" not in by_deployment[("globex", "schedule")].tags


def test_paused_and_removed_deployments_queued_runs_are_canceled_within_a_tick(store):
    with dg.instance_for_test(overrides=QUEUED) as instance:
        paused = queue_run(instance, "initech")
        removed = queue_run(instance, "globex")
        kept = queue_run(instance, "acme")
        store.remove("globex")
        evaluate_scheduler(instance, SCHEMAS, [], None, now=utcnow(), store=store)
        status = {run_id: instance.get_run_by_id(run_id).status for run_id in (paused, removed, kept)}
        assert status == {
            paused: dg.DagsterRunStatus.CANCELED,
            removed: dg.DagsterRunStatus.CANCELED,
            kept: dg.DagsterRunStatus.QUEUED,
        }


def test_an_operator_clears_a_deployments_queue_from_the_command_line(tmp_path):
    from integrations_tests.framework.cli.command import integrations

    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        acme = [queue_run(instance, "acme") for _ in range(3)]
        globex = queue_run(instance, "globex")
    done = integrations("runs", "cancel", "--deployment", "acme", env={"DAGSTER_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "acme: canceled 3 queued run(s)"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert {instance.get_run_by_id(r).status for r in acme} == {dg.DagsterRunStatus.CANCELED}
        assert instance.get_run_by_id(globex).status == dg.DagsterRunStatus.QUEUED
