from typing import Any

from integrations_pipeline.sdk import TaskContext, task

from ._unknown import fail_if_nothing_judged, unknown_note


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
    violations, unknown = [], []
    for bucket in data["buckets"]:
        reasons, unread = _public_reasons(bucket, account_block)
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
        elif unread:
            unknown.append(bucket["name"])
    checked = len(data["buckets"])
    fail_if_nothing_judged(unknown, checked, "the policy status or ACL of every bucket", "list_buckets_v2")
    return {
        "data": {"checked": checked, "public": [v["data"]["bucket"] for v in violations], "unknown": unknown},
        "message": f"{len(violations)} of {checked} bucket(s) public{unknown_note(unknown)}",
        "violations": violations,
    }


def _public_reasons(bucket: dict[str, Any], account_block: dict[str, bool]) -> tuple[list[str], bool]:
    """Why the bucket is open to anyone, and whether a policy status or ACL that matters was unread.

    A block setting that could not be read counts as off.
    """
    bucket_block = bucket["public_access_block"] or {}

    def blocked(setting: str) -> bool:
        return bool(bucket_block.get(setting) or account_block.get(setting))

    reasons, unread = [], False
    if not blocked("restrict_public_buckets"):
        if bucket["policy_is_public"]:
            reasons.append("its bucket policy allows public access")
        unread |= bucket["policy_is_public"] is None
    if not blocked("ignore_public_acls"):
        grants = bucket["public_acl_grants"]
        if grants:
            granted = ", ".join(f"{g['permission']} to {g['grantee']}" for g in grants)
            reasons.append(f"its ACL grants {granted}")
        unread |= grants is None
    return reasons, unread
