"""Findings on the embedded SQLite and on a real PostgreSQL: lifecycle, mutes, integrity."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.db.engine import utcnow
from integrations_pipeline.findings.mutes import add_mute, list_mutes, remove_mute
from integrations_pipeline.findings.store import ReportedFinding, get_store


def evaluate(store, resources=(), *, status=None, run_id="run-1", deployment="acme", task="public_buckets"):
    reported = [ReportedFinding(r, "high", f"{r} is public", {"bucket": r}) for r in resources]
    return store.record_evaluation(
        integration="aws", deployment=deployment, task=task, title="Public bucket", run_id=run_id,
        status=status or ("violation" if reported else "passed"), message="checked", reported=reported,
    )  # fmt: skip


def by_resource(store):
    return {f["resource"]: f for f in store.list_findings()}


def test_new_recurring_resolved_and_reopened(database_url):
    store = get_store(database_url)
    first = evaluate(store, ["logs", "backups"])
    assert (first.new, first.open, first.resolved) == (2, 2, 0)
    found = by_resource(store)
    assert found["logs"]["status"] == "open" and found["logs"]["occurrences"] == 1

    second = evaluate(store, ["logs"], run_id="run-2")  # backups fixed
    assert (second.new, second.open, second.resolved) == (0, 1, 1)
    found = by_resource(store)
    assert found["logs"]["occurrences"] == 2 and found["logs"]["run_id"] == "run-2"
    assert found["logs"]["first_seen"] < found["logs"]["last_seen"]
    assert found["backups"]["status"] == "resolved" and found["backups"]["resolved_at"]

    third = evaluate(store, ["logs", "backups"], run_id="run-3")  # backups public again
    assert (third.new, third.reopened) == (0, 1)
    found = by_resource(store)
    assert found["backups"]["status"] == "open" and found["backups"]["reopened"] == 1
    assert found["backups"]["resolved_at"] is None and found["backups"]["uid"] != found["logs"]["uid"]


def test_only_an_evaluation_that_ran_resolves(database_url):
    store = get_store(database_url)
    evaluate(store, ["logs"])
    evaluate(store, status="error", run_id="run-2")
    evaluate(store, status="skipped", run_id="run-3")
    assert by_resource(store)["logs"]["status"] == "open"
    history = [(e["run_id"], e["status"]) for e in store.evaluations(integration="aws")]
    assert history == [("run-1", "violation"), ("run-2", "error"), ("run-3", "skipped")]
    evaluate(store, run_id="run-4")
    assert by_resource(store)["logs"]["status"] == "resolved"


def test_the_insight_itself_and_deployments_are_separate_findings(database_url):
    store = get_store(database_url)
    evaluate(store, [None])
    evaluate(store, ["logs"], task="unencrypted")
    evaluate(store, [None], deployment="globex", run_id="run-2")
    assert len(store.list_findings()) == 3
    assert {f["deployment"] for f in store.list_findings(task="public_buckets")} == {"acme", "globex"}


def test_mutes_flag_findings_and_expire_by_themselves(database_url):
    store = get_store(database_url)
    evaluate(store, ["logs-2024", "logs-2025", "backups"])
    with pytest.raises(IntegrationError, match="needs a reason"):
        add_mute(integration="aws", reason=" ", url=database_url)
    mute = add_mute(integration="aws", task="public_buckets", resource_pattern="logs-*",
                    reason="log buckets are public by design", url=database_url)  # fmt: skip
    muted = {f["resource"]: f["muted"] for f in store.list_findings()}
    assert muted == {"logs-2024": True, "logs-2025": True, "backups": False}
    summary = evaluate(store, ["logs-2024", "backups"], run_id="run-2")  # muted findings keep updating
    assert summary.muted == 1 and by_resource(store)["logs-2024"]["occurrences"] == 2
    assert [f["resource"] for f in store.list_findings(muted=False, status="open")] == ["backups"]
    remove_mute(mute["id"], url=database_url)
    assert not any(f["muted"] for f in store.list_findings())

    expiring = add_mute(integration="aws", reason="until the fix ships",
                        expires_at=utcnow() + timedelta(seconds=2), url=database_url)  # fmt: skip
    assert all(f["muted"] for f in store.list_findings())
    from sqlalchemy import update

    from integrations_pipeline.findings.mutes import Mute

    with store.engine.begin() as connection:  # time passes: the expiry is now behind us
        connection.execute(
            update(Mute).where(Mute.id == expiring["id"]).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert not any(f["muted"] for f in store.list_findings())
    assert list_mutes(url=database_url) == []
    assert [m["active"] for m in list_mutes(include_expired=True, url=database_url)] == [False]


def test_concurrent_writers_never_lose_or_duplicate_a_finding(postgres_url):
    """Real concurrent transactions on PostgreSQL: many runs of one deployment and of several."""
    store = get_store(postgres_url)
    rounds = 12

    def run(i):
        deployment = f"tenant-{i % 3}"
        # Every run reports resources r0..r4 plus one of its own.
        return evaluate(
            store, [*(f"r{n}" for n in range(5)), f"only-{i}"], run_id=f"run-{i}", deployment=deployment
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        summaries = list(pool.map(run, range(rounds)))
    findings = store.list_findings()
    assert len({f["uid"] for f in findings}) == len(findings)  # no duplicates
    for tenant in range(3):
        mine = [f for f in findings if f["deployment"] == f"tenant-{tenant}"]
        shared = [f for f in mine if not f["resource"].startswith("only-")]
        runs = rounds // 3
        assert sorted(f["resource"] for f in shared) == [f"r{n}" for n in range(5)]
        assert all(f["occurrences"] == runs and f["status"] == "open" for f in shared)  # no lost update
        own = [f for f in mine if f["resource"].startswith("only-")]
        # Serialized: each run resolved the previous run's own finding; only the last one is open.
        assert len(own) == runs and sum(f["status"] == "open" for f in own) == 1
    assert sum(s.new for s in summaries) == len(findings)
    assert len(store.evaluations()) == rounds


def test_duplicates_keep_the_worst_severity_and_incomplete_evaluations_resolve_nothing(database_url):
    store = get_store(database_url)
    summary = store.record_evaluation(
        integration="aws", deployment="acme", task="public_buckets", title="Public", run_id="run-1",
        status="violation",
        reported=[ReportedFinding("a", "low"), ReportedFinding("a", "critical"), ReportedFinding("b", "high")],  # noqa: E501
    )  # fmt: skip
    assert (summary.open, summary.new) == (2, 2)
    assert by_resource(store)["a"]["severity"] == "critical"
    partial = store.record_evaluation(
        integration="aws", deployment="acme", task="public_buckets", title="Public", run_id="run-2",
        status="violation", reported=[ReportedFinding("a", "critical")], complete=False,
    )  # fmt: skip
    assert partial.resolved == 0 and by_resource(store)["b"]["status"] == "open"
    assert [e["opened"] for e in store.evaluations()] == [
        sorted(e["opened"]) or e["opened"] for e in store.evaluations()
    ]


def test_a_mute_expiry_given_with_an_offset_is_stored_as_the_same_moment(database_url):
    from datetime import timezone

    from integrations_pipeline.findings.mutes import list_mutes

    moment = (utcnow() + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    add_mute(integration="aws", reason="r", expires_at=moment, url=database_url)
    [mute] = list_mutes(url=database_url)
    from datetime import datetime

    assert abs((datetime.fromisoformat(mute["expires_at"]) - moment).total_seconds()) < 1
