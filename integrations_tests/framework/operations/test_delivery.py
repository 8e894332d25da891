"""Webhook deliveries: a total deadline per request, a bounded background deliverer outside
the sensor ticks, at least once with the same Idempotency-Key on every attempt."""

import os
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import pytest
from sqlalchemy import create_engine, text, update

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.db.engine import upgrade_schema
from integrations_pipeline.http.webhook import post_webhook
from integrations_pipeline.operations import delivery
from integrations_pipeline.operations.deployments import Deployment, DeploymentRow, DeploymentStore
from integrations_pipeline.operations.tickets import list_tickets, open_ticket
from integrations_pipeline.orchestration.build import build_definitions
from integrations_pipeline.orchestration.sensors import SCHEDULER_SENSOR, TICKETS_SENSOR
from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import PROJECT, case
from integrations_tests.framework.operations.receivers import (
    Receiver,
    TricklingReceiver,
    outbox_rows,
    wait_delivered,
)

GUIDE = case("guide")
CONFIG = {"api_key": {"env": "GUIDE_DEMO_KEY"}}
FAST = delivery.DeliveryPolicy(deadline=1.0, backoff=0.1)


@pytest.fixture(autouse=True)
def fast_deliverers(monkeypatch):
    """Short deadlines and backoffs; this test's deliverer threads stopped after it."""
    monkeypatch.setattr(delivery, "POLICY", FAST)
    monkeypatch.setenv("GUIDE_DEMO_KEY", "delivery-secret-key-1")
    yield
    delivery.stop_deliverers()


def ticket(run_id="run-1"):
    return open_ticket(
        run_id=run_id, integration="demo", deployment=None, failed_tasks=["t"], error_summary="boom"
    )


def failed_run_through_the_tickets_sensor(instance):
    """A failing run (a ticket) that also opened a critical finding (an alert), evaluated by
    the support_tickets sensor as the daemon would; returns the sensor's duration."""
    sensor = build_definitions(load_catalog(GUIDE)).resolve_sensor_def(TICKETS_SENSOR)
    result = run_integration(
        "guide_demo", {**CONFIG, "fail_groups": True}, project=GUIDE, instance=instance, deployment="initech"
    )
    run = instance.get_run_by_id(result.run_id)
    failure = next(iter(instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)))
    context = dg.build_run_status_sensor_context(
        sensor_name=TICKETS_SENSOR,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure.dagster_event,
    )
    started = time.monotonic()
    sensor(context.for_run_failure())
    return time.monotonic() - started


@pytest.mark.parametrize("body_only", [False, True], ids=["status-line", "body"])
def test_a_trickling_receiver_is_cut_at_the_deadline(body_only):
    receiver = TricklingReceiver(every=0.3, body_only=body_only)
    try:
        started = time.monotonic()
        result = post_webhook({"type": "test"}, receiver.url, idempotency_key="k", deadline=1.5)
        elapsed = time.monotonic() - started
    finally:
        receiver.close()
    assert result == "no answer within the 1.5 s deadline"
    assert 1.4 < elapsed < 2.5, elapsed


def test_ticks_and_finalize_return_at_once_while_the_receiver_trickles(database_url, monkeypatch):
    receiver = TricklingReceiver(every=0.3)
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    store = DeploymentStore(database_url)
    store.add(Deployment("acme", "guide_demo", CONFIG, schedule="* * * * *"), load_catalog(GUIDE))
    with store.engine.begin() as connection:  # its config no longer fits: a ticket, in the tick
        connection.execute(
            update(DeploymentRow).where(DeploymentRow.name == "acme").values(config={"api_key": 1})
        )
    defs = build_definitions(load_catalog(GUIDE))
    scheduler = defs.resolve_sensor_def(SCHEDULER_SENSOR)
    try:
        with dg.instance_for_test() as instance:
            started = time.monotonic()
            scheduler(dg.build_sensor_context(instance=instance, definitions=defs))
            tick = time.monotonic() - started
            finalize = failed_run_through_the_tickets_sensor(instance)
        # Posting any of them would take the trickle's 25 s: the ticks did not wait.
        assert tick < 5 and finalize < 5, (tick, finalize)
        assert sorted(r.kind for r in outbox_rows()) == ["alert", "ticket", "ticket"]
        deadline = time.monotonic() + 5
        while receiver.requests < 3 and time.monotonic() < deadline:  # the deliverer's threads post
            time.sleep(0.05)
        assert receiver.requests >= 3
    finally:
        delivery.stop_deliverers()
        receiver.close()
    assert all(r.delivered_at is None and r.result and "deadline" in r.result for r in outbox_rows())


def test_a_failing_receiver_gets_the_ticket_and_the_alert_later_with_the_same_key(database_url, monkeypatch):
    receiver = Receiver(fail_each=2)  # HTTP 500 to the first two attempts at each payload
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    try:
        with dg.instance_for_test() as instance:
            failed_run_through_the_tickets_sensor(instance)
        wait_delivered()
    finally:
        receiver.close()
    [opened] = list_tickets()
    assert receiver.keys("integration_run_failed") == [opened["id"]] * 3
    [alert_id] = set(receiver.keys("new_findings"))
    assert receiver.keys("new_findings") == [alert_id] * 3
    assert all(body["id"] == alert_id for _, body in receiver.requests if body["type"] == "new_findings")
    assert opened["webhook"] == "delivered (HTTP 200)"
    assert "delivery-secret-key-1" not in repr(receiver.requests)


CHILD = """
from integrations_pipeline.operations.delivery import DeliveryPolicy, deliver_due
deliver_due(policy=DeliveryPolicy(deadline=30, claim=3))  # a claim shorter than usual: a short test
"""


def test_a_deliverer_killed_after_its_post_redelivers_with_the_same_key(database_url, monkeypatch):
    children: list[subprocess.Popen] = []

    def kill_the_deliverer(receiver):  # it posted; it dies before it can record the answer
        if len(receiver.requests) == 1:
            os.kill(children[0].pid, signal.SIGKILL)

    receiver = Receiver(on_request=kill_the_deliverer)
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    try:
        opened, _ = ticket()
        children.append(subprocess.Popen([sys.executable, "-c", CHILD], cwd=PROJECT, env=dict(os.environ)))
        assert children[0].wait(60) == -signal.SIGKILL
        [row] = outbox_rows()
        assert (row.attempts, row.delivered_at) == (1, None)
        results: list[str] = []
        deadline = time.monotonic() + 15
        while not results and time.monotonic() < deadline:  # once its claim (lease) has expired
            results = delivery.deliver_due(policy=FAST)
            time.sleep(0.1)
        assert results == ["delivered (HTTP 200)"]
    finally:
        receiver.close()
    assert receiver.keys("integration_run_failed") == [opened["id"]] * 2
    assert delivery.deliver_due() == []  # delivered: never again


def test_concurrent_deliverers_post_each_payload_once(database_url, monkeypatch):
    receiver = Receiver()
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    try:
        ids = [ticket(f"run-{n}")[0]["id"] for n in range(5)]
        workers = [threading.Thread(target=delivery.deliver_due) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        receiver.close()
    assert sorted(receiver.keys("integration_run_failed")) == sorted(ids)


def test_the_deliverer_is_bounded_by_its_workers(database_url, monkeypatch):
    receiver = TricklingReceiver(every=0.3)
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    for n in range(6):
        ticket(f"run-{n}")
    lock, active, most = threading.Lock(), [0], [0]

    def counted_post(*args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return post_webhook(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(delivery, "post_webhook", counted_post)
    deliverer = delivery.Deliverer(database_url, workers=2, queue_size=2, poll=0.1, policy=FAST).start()
    try:
        time.sleep(2.8)  # 6 are due; 2 workers post 2 at a time, each cut at its 1 s deadline
    finally:
        deliverer.stop()
        receiver.close()
    assert most[0] == 2 and receiver.requests >= 4


def test_no_webhook_no_outbox_and_no_deliverer(database_url):
    ticket()
    assert outbox_rows() == [] and delivery.start_deliverer() is None


def test_tickets_an_earlier_version_had_not_delivered_are_delivered_after_the_upgrade(
    database_url, monkeypatch
):
    assert upgrade_schema(database_url, "0002") == ["0001", "0002"]
    old = create_engine(database_url)
    with old.begin() as connection:
        for n, webhook in enumerate([None, "failed after 3 attempt(s): HTTP 503", "delivered (HTTP 200)"]):
            connection.execute(
                text(
                    "INSERT INTO tickets (id, run_id, integration, failed_tasks, error_summary, status,"
                    " created_at, webhook, webhook_deliveries)"
                    " VALUES (:id, :run, 'demo', '[]', 'boom', 'open', :at, :hook, 1)"
                ),
                {"id": f"ticket-{n}", "run": f"run-{n}", "at": "2026-01-01 10:00:00+00:00", "hook": webhook},
            )
    old.dispose()
    assert upgrade_schema(database_url) == ["0003"]
    receiver = Receiver()
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    try:
        assert delivery.deliver_due() == ["delivered (HTTP 200)"] * 2
    finally:
        receiver.close()
    assert sorted(receiver.keys("integration_run_failed")) == ["ticket-0", "ticket-1"]
    assert {t["run_id"]: t["webhook"] for t in list_tickets()} == dict.fromkeys(
        ["run-0", "run-1", "run-2"], "delivered (HTTP 200)"
    )
