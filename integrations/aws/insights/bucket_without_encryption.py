from integrations_pipeline.sdk import TaskContext, task

from ._unknown import fail_if_nothing_judged, unknown_note


@task(
    name="bucket_without_encryption",
    title="S3 bucket without default encryption",
    description="A bucket with no default server-side encryption configuration",
    type="insight",
    severity="high",
)
def bucket_without_encryption(self, ctx: TaskContext):
    buckets = ctx.get_data("list_buckets_v2")["buckets"]
    # None: the configuration could not be read (an error is recorded on the collector).
    unknown = [b["name"] for b in buckets if b["encryption"] is None]
    fail_if_nothing_judged(unknown, len(buckets), "the default encryption of every bucket", "list_buckets_v2")
    unencrypted = [b for b in buckets if b["encryption"] == []]
    message = f"{len(unencrypted)} of {len(buckets)} bucket(s) without default encryption"
    return {
        "data": {
            "checked": len(buckets),
            "unencrypted": [b["name"] for b in unencrypted],
            "unknown": unknown,
        },
        "message": message + unknown_note(unknown),
        "violations": [
            {
                "resource": b["arn"],
                "message": f"S3 bucket {b['name']} has no default encryption",
                "data": {"bucket": b["name"], "region": b["region"], "encryption": b["encryption"]},
            }
            for b in unencrypted
        ],
    }
