"""The violations table on the embedded SQLite and on a real PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

from integrations_pipeline.store import get_store


def evaluate(store, violation, run_id="run-1", deployment=None, message="found"):
    return store.record_evaluation(
        integration="demo", deployment=deployment, task="judge", title="Judge", severity="high",
        violation=violation, message=message, data={"n": 1}, run_id=run_id,
    )  # fmt: skip


def test_open_update_resolve_and_reopen(database_url):
    store = get_store(database_url)
    assert evaluate(store, False) is None  # nothing to resolve
    assert evaluate(store, True) == "open"
    assert evaluate(store, True, run_id="run-2", message="still") == "open"
    [record] = store.list_violations()
    assert (record["status"], record["run_id"], record["message"]) == ("open", "run-2", "still")
    assert evaluate(store, False, run_id="run-3") == "resolved"
    [record] = store.list_violations(status="resolved")
    assert record["resolved_at"] is not None
    assert evaluate(store, True, run_id="run-4") == "open"
    [record] = store.list_violations()
    assert record["status"] == "open" and record["resolved_at"] is None


def test_deployments_are_separate_violations(database_url):
    store = get_store(database_url)
    evaluate(store, True, deployment="acme")
    evaluate(store, True, deployment="globex")
    evaluate(store, True)
    assert len(store.list_violations()) == 3
    assert [r["deployment"] for r in store.list_violations(deployment="acme")] == ["acme"]


def test_concurrent_writers_never_duplicate_a_violation(database_url):
    store = get_store(database_url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: evaluate(store, True, run_id=f"run-{i}"), range(40)))
    assert statuses == ["open"] * 40
    assert len(store.list_violations()) == 1
