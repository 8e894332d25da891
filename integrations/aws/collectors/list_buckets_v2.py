from concurrent.futures import ThreadPoolExecutor
from typing import Any

from integrations_pipeline.sdk import TaskContext, task

from ..aws_api import Aws, aws_errors, try_read

WORKERS = 8  # buckets read at once
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
NO_BLOCK = {
    "block_public_acls": False,
    "ignore_public_acls": False,
    "block_public_policy": False,
    "restrict_public_buckets": False,
}


@task(
    name="list_buckets_v2",
    title="List S3 buckets with their settings",
    description=(
        "Per bucket: region, default encryption, public access block, versioning, whether its policy "
        "is public and its ACL grants to everyone; and the account's public access block"
    ),
    type="collector",
)
def list_buckets_v2(self, ctx: TaskContext):
    aws: Aws = ctx.base("aws")
    with aws_errors("s3 ListBuckets"):
        pages = aws.client("s3").get_paginator("list_buckets").paginate()
        listed = [bucket for page in pages for bucket in page.get("Buckets", [])]
    account_block = try_read(
        ctx.add_error,
        f"account {aws.account_id}: s3control GetPublicAccessBlock",
        lambda: _block(
            aws.client("s3control").get_public_access_block(AccountId=aws.account_id)[
                "PublicAccessBlockConfiguration"
            ]
        ),
        absent_codes=frozenset({"NoSuchPublicAccessBlockConfiguration"}),
        absent=NO_BLOCK,
    )
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        buckets = list(pool.map(lambda bucket: _bucket(ctx, aws, bucket), listed))
    return {
        "data": {"account_public_access_block": account_block, "buckets": buckets},
        "message": f"Read the settings of {len(buckets)} bucket(s)",
    }


def _bucket(ctx: TaskContext, aws: Aws, listed: dict[str, Any]) -> dict[str, Any]:
    """One bucket's settings; a setting that could not be read is None (and an error is recorded)."""
    name = listed["Name"]

    def read(call: str, fetch: Any, **absent: Any) -> Any:
        return try_read(ctx.add_error, f"bucket {name}: s3 {call}", fetch, **absent)

    location = read("GetBucketLocation", lambda: aws.client("s3").get_bucket_location(Bucket=name))
    region = _region(location["LocationConstraint"]) if location is not None else None
    s3 = aws.client("s3", region)
    return {
        "name": name,
        "arn": aws.arn("s3", name, account=False),
        "creation_date": listed["CreationDate"].isoformat(),
        "region": region,
        "encryption": read(
            "GetBucketEncryption",
            lambda: _encryption(s3.get_bucket_encryption(Bucket=name)),
            absent_codes=frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
            absent=[],
        ),
        "public_access_block": read(
            "GetPublicAccessBlock",
            lambda: _block(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]),
            absent_codes=frozenset({"NoSuchPublicAccessBlockConfiguration"}),
            absent=NO_BLOCK,
        ),
        "versioning": read(
            "GetBucketVersioning", lambda: s3.get_bucket_versioning(Bucket=name).get("Status", "Disabled")
        ),
        "policy_is_public": read(
            "GetBucketPolicyStatus",
            lambda: s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"],
            absent_codes=frozenset({"NoSuchBucketPolicy"}),
            absent=False,
        ),
        "public_acl_grants": read("GetBucketAcl", lambda: _public_grants(s3.get_bucket_acl(Bucket=name))),
    }


def _region(location: str | None) -> str:
    # GetBucketLocation answers null for us-east-1 and "EU" for buckets made long ago in eu-west-1.
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def _encryption(response: dict[str, Any]) -> list[dict[str, Any]]:
    rules = response["ServerSideEncryptionConfiguration"]["Rules"]
    return [
        {
            "algorithm": rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "kms_key_id": rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
            "bucket_key_enabled": rule.get("BucketKeyEnabled", False),
        }
        for rule in rules
        if "ApplyServerSideEncryptionByDefault" in rule
    ]


def _block(configuration: dict[str, Any]) -> dict[str, bool]:
    return {
        "block_public_acls": configuration.get("BlockPublicAcls", False),
        "ignore_public_acls": configuration.get("IgnorePublicAcls", False),
        "block_public_policy": configuration.get("BlockPublicPolicy", False),
        "restrict_public_buckets": configuration.get("RestrictPublicBuckets", False),
    }


def _public_grants(acl: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"grantee": PUBLIC_GROUPS[grant["Grantee"]["URI"]], "permission": grant["Permission"]}
        for grant in acl.get("Grants", [])
        if grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS
    ]
