"""hello_world, as the seed's tests/hello_world/test_runner.py: every task succeeds."""

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration

CONFIG = {"api_key": "hello-test-key"}


def test_success_of_tasks():
    result = run_integration("hello_world", CONFIG)
    assert result.success, result.errors
    for outcome in result.tasks.values():
        assert outcome.status == "succeeded", (outcome.task, outcome.error)
    assert list(result.tasks) == ["list_items", "check_item"]


def test_list_items_collects_the_items():
    result = run_integration("hello_world", CONFIG, tasks=["list_items"])
    assert result["list_items"].data == {"items": [{"id": "1", "name": "item_1"}]}
    assert result["list_items"].message == "Found 1 items"
    assert result["check_item"].status == "skipped"


def test_check_item_flags_item_1_as_a_high_violation():
    result = run_integration("hello_world", CONFIG)
    assert result["check_item"].violation
    assert result["check_item"].message == "Found item_1 in item list"
    [record] = get_store().list_findings(status="open", integration="hello_world")
    assert (record["task"], record["severity"]) == ("check_item", "high")


def test_api_key_is_required_and_checked():
    result = run_integration("hello_world", {"api_key": "abc"})
    assert not result.success
    assert any("config field 'api_key'" in e for e in result.errors), result.errors
    assert all("abc" not in e for e in result.errors)
