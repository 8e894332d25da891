"""One alert per run for new findings at or above the threshold; muted findings never alert.
The background deliverer posts it (integrations_tests/framework/operations/test_delivery.py)."""

import subprocess
import sys

import pytest

from integrations_pipeline.findings.mutes import add_mute
from integrations_pipeline.operations import delivery
from integrations_pipeline.operations.delivery import stop_deliverers
from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import PROJECT, Webhook, case
from integrations_tests.framework.operations.receivers import Receiver, wait_delivered

GUIDE = case("guide")
KEY = {"api_key": "alert-key-000001"}


@pytest.fixture
def receiver(monkeypatch):
    webhook = Webhook()
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", webhook.url)
    yield webhook
    stop_deliverers()
    webhook.close()


def alerts(webhook):
    wait_delivered()
    return [p for p in webhook.received if p["type"] == "new_findings"]


def test_one_message_per_run_for_new_findings_only(receiver):
    first = run_integration("guide_demo", KEY, project=GUIDE, deployment="acme")
    [alert] = alerts(receiver)
    assert alert["run_id"] == first.run_id and alert["deployment"] == "acme" and alert["threshold"] == "high"
    assert [(f["task"], f["severity"]) for f in alert["findings"]] == [("check_admins", "critical")]
    assert "alert-key-000001" not in repr(receiver.received)
    run_integration("guide_demo", KEY, project=GUIDE, deployment="acme")  # the same finding again
    assert len(alerts(receiver)) == 1


def test_below_the_threshold_or_muted_never_alerts(receiver, monkeypatch):
    monkeypatch.setenv("INTEGRATIONS_ALERT_SEVERITY", "critical")
    add_mute(integration="guide_demo", task="check_admins", reason="accepted risk")
    run_integration("guide_demo", KEY, project=GUIDE, deployment="acme")
    assert alerts(receiver) == []
    run_integration("guide_demo", {**KEY, "fail_groups": True}, project=GUIDE, deployment="globex")
    # check_groups_collected (low) opened: below the threshold; check_admins: muted.
    assert alerts(receiver) == []


def test_a_reopened_finding_alerts_again(receiver):
    run_integration("guide_demo", KEY, project=GUIDE, deployment="acme")
    run_integration("guide_demo", {**KEY, "admins_allowed": ["alice"]}, project=GUIDE, deployment="acme")
    reopened = run_integration("guide_demo", KEY, project=GUIDE, deployment="acme")
    assert [a["run_id"] for a in alerts(receiver)][-1] == reopened.run_id
    assert len(alerts(receiver)) == 2


def test_an_alert_the_receiver_failed_is_sent_again_with_the_same_key(monkeypatch):
    monkeypatch.setattr(delivery, "POLICY", delivery.DeliveryPolicy(deadline=2.0, backoff=0.1))
    receiver = Receiver(fail_each=1)  # HTTP 500 to the first attempt
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    try:
        run = run_integration("guide_demo", KEY, project=GUIDE, deployment="acme")
        [row] = wait_delivered()
    finally:
        stop_deliverers()
        receiver.close()
    assert (row.kind, row.payload["run_id"], row.attempts) == ("alert", run.run_id, 2)
    assert receiver.keys("new_findings") == [row.id, row.id]
    assert [body["id"] for _, body in receiver.requests] == [row.id, row.id]


IN_PROCESS_RUN = """
from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import case

run_integration("guide_demo", {"api_key": "alert-key-000001"}, project=case("guide"), deployment="acme")
"""


def test_an_in_process_run_posts_its_alert_before_its_process_exits(monkeypatch):
    receiver = Receiver()
    monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", receiver.url)
    try:
        subprocess.run([sys.executable, "-c", IN_PROCESS_RUN], cwd=PROJECT, check=True, capture_output=True)
    finally:
        receiver.close()
    [(headers, alert)] = receiver.requests
    assert alert["type"] == "new_findings" and headers["Idempotency-Key"] == alert["id"]
