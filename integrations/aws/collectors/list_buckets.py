from integrations_pipeline.sdk import TaskContext, task

from ..aws_api import aws_errors


@task(
    name="list_buckets",
    title="List S3 buckets",
    description="Names, ARNs and creation dates of the account's S3 buckets",
    type="collector",
)
def list_buckets(self, ctx: TaskContext):
    aws = ctx.base("aws")
    with aws_errors("s3 ListBuckets"):
        pages = aws.client("s3").get_paginator("list_buckets").paginate()
        buckets = [
            {
                "name": bucket["Name"],
                "arn": aws.arn("s3", bucket["Name"], account=False),
                "creation_date": bucket["CreationDate"].isoformat(),
            }
            for page in pages
            for bucket in page.get("Buckets", [])
        ]
    return {"data": {"buckets": buckets}, "message": f"Found {len(buckets)} bucket(s)"}
