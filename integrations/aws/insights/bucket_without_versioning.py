from integrations_pipeline.sdk import TaskContext, task

from ._unknown import fail_if_nothing_judged, unknown_note


@task(
    name="bucket_without_versioning",
    title="S3 bucket without versioning",
    description="A bucket whose versioning was never enabled or is suspended",
    type="insight",
    severity="low",
)
def bucket_without_versioning(self, ctx: TaskContext):
    buckets = ctx.get_data("list_buckets_v2")["buckets"]
    # None: the status could not be read (an error is recorded on the collector).
    unknown = [b["name"] for b in buckets if b["versioning"] is None]
    fail_if_nothing_judged(unknown, len(buckets), "the versioning status of every bucket", "list_buckets_v2")
    unversioned = [b for b in buckets if b["versioning"] in ("Disabled", "Suspended")]
    return {
        "data": {
            "checked": len(buckets),
            "unversioned": [b["name"] for b in unversioned],
            "unknown": unknown,
        },
        "message": f"{len(unversioned)} of {len(buckets)} bucket(s) without versioning"
        + unknown_note(unknown),
        "violations": [
            {
                "resource": b["arn"],
                "message": f"S3 bucket {b['name']} has versioning {b['versioning'].lower()}",
                "data": {"bucket": b["name"], "region": b["region"], "versioning": b["versioning"]},
            }
            for b in unversioned
        ],
    }
