from typing import Any

from integrations_pipeline.sdk import TaskContext, task


@task(
    name="public_bucket",
    title="Public S3 bucket",
    description=(
        "A bucket whose policy is public or whose ACL grants access to all (authenticated) users, "
        "and whose public access blocks (bucket or account) do not neutralise it"
    ),
    type="insight",
    severity="critical",
)
def public_bucket(self, ctx: TaskContext):
    data = ctx.get_data("list_buckets_v2")
    account_block = data["account_public_access_block"] or {}
    violations = []
    for bucket in data["buckets"]:
        reasons = _public_reasons(bucket, account_block)
        if reasons:
            violations.append(
                {
                    "resource": bucket["arn"],
                    "message": f"S3 bucket {bucket['name']} is public: {'; '.join(reasons)}",
                    "data": {
                        "bucket": bucket["name"],
                        "region": bucket["region"],
                        "policy_is_public": bucket["policy_is_public"],
                        "public_acl_grants": bucket["public_acl_grants"],
                        "public_access_block": bucket["public_access_block"],
                        "account_public_access_block": data["account_public_access_block"],
                    },
                }
            )
    checked = len(data["buckets"])
    return {
        "data": {"checked": checked, "public": [v["data"]["bucket"] for v in violations]},
        "message": f"{len(violations)} of {checked} bucket(s) public",
        "violations": violations,
    }


def _public_reasons(bucket: dict[str, Any], account_block: dict[str, bool]) -> list[str]:
    """Why the bucket is open to anyone. A block setting that could not be read counts as off."""
    bucket_block = bucket["public_access_block"] or {}

    def blocked(setting: str) -> bool:
        return bool(bucket_block.get(setting) or account_block.get(setting))

    reasons = []
    if bucket["policy_is_public"] and not blocked("restrict_public_buckets"):
        reasons.append("its bucket policy allows public access")
    grants = bucket["public_acl_grants"] or []
    if grants and not blocked("ignore_public_acls"):
        granted = ", ".join(f"{g['permission']} to {g['grantee']}" for g in grants)
        reasons.append(f"its ACL grants {granted}")
    return reasons
