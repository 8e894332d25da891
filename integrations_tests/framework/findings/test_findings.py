"""Insights that report findings per resource, end to end through Dagster."""

import dagster as dg

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration

COLLECTOR = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="list_buckets")
def list_buckets(self, ctx: TaskContext):
    if ctx.config.get("denied"):
        raise PermissionError("AccessDenied: s3:ListAllMyBuckets")
    return {"data": ctx.config.get("buckets", [])}
"""
INSIGHT = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="public_buckets", type="insight", severity="high", title="Public bucket")
def public_buckets(self, ctx: TaskContext):
    buckets = ctx.get_data("list_buckets")
    public = [b for b in buckets if b["public"]]
    return {
        "data": {"checked": len(buckets)},
        "message": f"{len(public)} public bucket(s)",
        "violations": [
            {"resource": b["name"], "message": f"{b['name']} is public", "data": b,
             "severity": "critical" if b.get("sensitive") else None}
            for b in public
        ],
    }
"""
SCHEMA = {"type": "object", "properties": {"buckets": {"type": "array"}, "denied": {"type": "boolean"}}}


def project(make_project):
    return make_project(
        {
            "s3": {
                "schema": SCHEMA,
                "files": {"collectors/buckets.py": COLLECTOR, "insights/public.py": INSIGHT},
            }
        }
    )


def buckets(*names, sensitive=()):
    return [{"name": n, "public": True, "sensitive": n in sensitive} for n in names] + [
        {"name": "private", "public": False}
    ]


def test_each_resource_is_a_finding_and_the_check_carries_the_counts(make_project):
    root = project(make_project)
    first = run_integration("s3", {"buckets": buckets("logs", "www", sensitive=("www",))}, project=root)
    assert first.success and first["public_buckets"].violation
    assert [v["resource"] for v in first["public_buckets"].violations] == ["logs", "www"]
    [check] = first.dagster_result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    counts = {k: check.metadata[f"findings_{k}"].value for k in ("open", "new", "resolved", "muted")}
    assert counts == {"open": 2, "new": 2, "resolved": 0, "muted": 0}
    assert check.metadata["severity"].value == "critical"  # the worst finding's
    assert [p["resource"] for p in check.metadata["findings_preview"].value] == ["logs", "www"]
    severities = {f["resource"]: f["severity"] for f in get_store().list_findings()}
    assert severities == {"logs": "high", "www": "critical"}

    second = run_integration("s3", {"buckets": buckets("www")}, project=root)
    [check] = second.dagster_result.get_asset_check_evaluations()
    assert (check.metadata["findings_new"].value, check.metadata["findings_resolved"].value) == (0, 1)
    statuses = {f["resource"]: f["status"] for f in get_store().list_findings()}
    assert statuses == {"logs": "resolved", "www": "open"}

    third = run_integration("s3", {"buckets": []}, project=root)
    assert third.success and [c.passed for c in third.dagster_result.get_asset_check_evaluations()] == [True]
    assert {f["status"] for f in get_store().list_findings()} == {"resolved"}


def test_a_permission_error_is_an_error_never_a_violation_and_resolves_nothing(make_project):
    root = project(make_project)
    run_integration("s3", {"buckets": buckets("logs")}, project=root)
    denied = run_integration("s3", {"denied": True}, project=root)
    assert not denied.success and denied["list_buckets"].status == "failed"
    history = [(e["status"], e["message"]) for e in get_store().evaluations()]
    assert history == [
        ("violation", "1 public bucket(s)"),
        ("error", "not run: a collector it reads failed"),
    ]
    assert [f["status"] for f in get_store().list_findings()] == ["open"]


def test_an_insight_not_selected_is_skipped_and_resolves_nothing(make_project):
    root = project(make_project)
    run_integration("s3", {"buckets": buckets("logs")}, project=root)
    run_integration("s3", {"buckets": []}, tasks=["list_buckets"], project=root)
    assert [e["status"] for e in get_store().evaluations()] == ["violation", "skipped"]
    assert [f["status"] for f in get_store().list_findings()] == ["open"]
