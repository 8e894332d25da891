"""Findings whose text or data a database cannot take as they are: stored alike on SQLite and
PostgreSQL, or refused with one line naming the task and the field, never a raw SQL error."""

import pytest

from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.findings.model import NUL_REPLACEMENT
from integrations_pipeline.findings.store import ReportedFinding, get_store
from integrations_pipeline.testing import run_integration

COLLECTOR = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="collect")
def collect(self, ctx: TaskContext):
    return {"data": []}
"""
INSIGHT = """
import datetime
from integrations_pipeline.sdk import TaskContext, task


@task(name="hostile", type="insight", severity="high", title="Hostile")
def hostile(self, ctx: TaskContext):
    kind = ctx.config["kind"]
    resource, message, data = "r", "m", {"x": 1}
    if kind == "deep":
        for _ in range(1000):
            data = {"d": data}
    elif kind == "huge":
        data = {"n": 10**400, "nan": float("nan")}
    elif kind == "nul":
        resource, message, data = "r\\x00", "m\\x00", {"k\\x00": "v\\x00"}
    elif kind == "python":
        data = {"when": datetime.datetime(2024, 1, 2, 3, 4, 5), "tags": {"b", "a"}, "pair": (1, 2)}
    elif kind == "bytes":
        data = {"blob": [b"\\x00\\x01"]}
    return {"data": {}, "violations": [{"resource": resource, "message": message, "data": data}]}
"""
SCHEMA = {"type": "object", "properties": {"kind": {"type": "string"}}}


def run(make_project, kind):
    root = make_project(
        {"h": {"schema": SCHEMA, "files": {"collectors/c.py": COLLECTOR, "insights/h.py": INSIGHT}}}
    )
    return run_integration("h", {"kind": kind}, project=root)


def test_nul_bytes_are_stored_alike_on_both_databases(make_project, database_url):
    result = run(make_project, "nul")
    assert result.success, result.errors
    [finding] = get_store().list_findings()
    assert (finding["resource"], finding["message"]) == ("r" + NUL_REPLACEMENT, "m" + NUL_REPLACEMENT)
    assert finding["data"] == {"k" + NUL_REPLACEMENT: "v" + NUL_REPLACEMENT}


def test_datetimes_sets_and_tuples_become_json(make_project, database_url):
    result = run(make_project, "python")
    assert result.success, result.errors
    [finding] = get_store().list_findings()
    assert finding["data"] == {"when": "2024-01-02T03:04:05", "tags": ["a", "b"], "pair": [1, 2]}


def test_huge_numbers_and_nan_are_stored(make_project, database_url):
    result = run(make_project, "huge")
    assert result.success, result.errors
    [finding] = get_store().list_findings()
    assert finding["data"] == {"n": 10**400, "nan": "NaN"}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("deep", "finding 'r': data.d.d.d"),
        ("bytes", "finding 'r': data.blob.0 is bytes, which JSON cannot hold"),
    ],
)
def test_data_json_cannot_hold_is_refused_naming_the_task_and_field(
    make_project, database_url, kind, expected
):
    result = run(make_project, kind)
    assert not result.success
    [error] = result.errors
    assert "task 'hostile'" in error and expected in error, error
    assert "RecursionError" not in error and "SQL" not in error and "\n" not in error
    if kind == "deep":
        assert "nested deeper than 64 levels" in error
    assert get_store().list_findings() == []


def test_fields_longer_than_their_column(database_url):
    store = get_store(database_url)
    with pytest.raises(IntegrationError, match=r"task 'public': finding 'xxx.*resource is 513 characters"):
        store.record_evaluation(
            integration="aws", deployment=None, task="public", title="T", run_id="run-1",
            status="violation", reported=[ReportedFinding("x" * 513, "high")],
        )  # fmt: skip
    store.record_evaluation(
        integration="aws", deployment=None, task="public", title="T" * 600, run_id="run-1",
        status="violation", reported=[ReportedFinding("x" * 512, "high", "m" * 100_000)],
    )  # fmt: skip
    [finding] = store.list_findings()
    assert finding["title"] == "T" * 511 + "…" and len(finding["message"]) == 100_000
