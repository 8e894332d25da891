"""S3: the bucket collectors and the public, encryption and versioning insights, against moto."""

from __future__ import annotations

import json
from datetime import datetime

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration

from .conftest import ACCOUNT, Moto

BUCKET_INSIGHTS = ["public_bucket", "bucket_without_encryption", "bucket_without_versioning"]
V2 = ["list_buckets_v2"]
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{}/*"}
    ],
}
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def make_bucket(
    moto: Moto,
    name: str,
    *,
    region: str = "us-east-1",
    encrypted: bool = True,
    versioning: str | None = "Enabled",
) -> None:
    s3 = moto.client("s3", region)
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)
    if encrypted:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})


def make_public_policy(moto: Moto, name: str) -> None:
    policy = json.dumps(PUBLIC_POLICY).replace("{}", name)
    moto.client("s3").put_bucket_policy(Bucket=name, Policy=policy)


def run_buckets(moto: Moto, tasks: list[str], **config: object):
    return run_integration("aws", moto.config(**config), tasks=V2 + tasks)


def test_list_buckets_collects_names_arns_and_creation_dates(moto: Moto):
    make_bucket(moto, "alpha-bucket")
    make_bucket(moto, "beta-bucket", region="eu-west-1")
    result = run_integration("aws", moto.config(), tasks=["list_buckets"])
    assert result.success, result.errors
    buckets = result["list_buckets"].data["buckets"]
    assert [(b["name"], b["arn"]) for b in buckets] == [
        ("alpha-bucket", "arn:aws:s3:::alpha-bucket"),
        ("beta-bucket", "arn:aws:s3:::beta-bucket"),
    ]
    assert all(datetime.fromisoformat(b["creation_date"]).tzinfo for b in buckets)
    assert result["list_buckets"].message == "Found 2 bucket(s)"


def test_list_buckets_v2_reads_every_setting_of_each_bucket(moto: Moto):
    make_bucket(moto, "plain-bucket", encrypted=False, versioning=None)
    s3 = moto.client("s3", "eu-west-1")
    s3.create_bucket(Bucket="full-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(
        Bucket="full-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "key-1",
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket="full-bucket", VersioningConfiguration={"Status": "Suspended"})
    s3.put_public_access_block(
        Bucket="full-bucket",
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True},
    )
    s3.put_bucket_acl(Bucket="full-bucket", ACL="authenticated-read")
    make_public_policy(moto, "full-bucket")
    moto.client("s3control").put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration={"BlockPublicPolicy": True}
    )

    result = run_integration("aws", moto.config(), tasks=V2)

    assert result.success, result.errors
    assert result["list_buckets_v2"].errors == []
    data = result["list_buckets_v2"].data
    assert data["account_public_access_block"] == {
        "block_public_acls": False,
        "ignore_public_acls": False,
        "block_public_policy": True,
        "restrict_public_buckets": False,
    }
    full, plain = sorted(data["buckets"], key=lambda b: b["name"])
    assert full["region"] == "eu-west-1"
    assert full["encryption"] == [{"algorithm": "aws:kms", "kms_key_id": "key-1", "bucket_key_enabled": True}]
    assert full["versioning"] == "Suspended"
    assert full["public_access_block"] == {
        "block_public_acls": True,
        "ignore_public_acls": True,
        "block_public_policy": False,
        "restrict_public_buckets": False,
    }
    assert full["policy_is_public"] is True
    assert full["public_acl_grants"] == [{"grantee": "AuthenticatedUsers", "permission": "READ"}]
    assert plain == {
        "name": "plain-bucket",
        "arn": "arn:aws:s3:::plain-bucket",
        "creation_date": plain["creation_date"],
        "region": "us-east-1",
        "encryption": [],
        "public_access_block": {
            "block_public_acls": False,
            "ignore_public_acls": False,
            "block_public_policy": False,
            "restrict_public_buckets": False,
        },
        "versioning": "Disabled",
        "policy_is_public": False,
        "public_acl_grants": [],
    }


def test_bucket_insights_pass_on_an_empty_account(moto: Moto):
    result = run_buckets(moto, BUCKET_INSIGHTS)
    assert result.success, result.errors
    for insight in BUCKET_INSIGHTS:
        outcome = result[insight]
        assert outcome.status == "succeeded", (insight, outcome.error)
        assert not outcome.violation and outcome.violations == [], insight
        assert outcome.message.startswith("0 of 0 bucket(s)"), outcome.message


def test_bucket_insights_pass_on_a_private_encrypted_versioned_bucket(moto: Moto):
    make_bucket(moto, "good-bucket")
    result = run_buckets(moto, BUCKET_INSIGHTS)
    assert result.success, result.errors
    for insight in BUCKET_INSIGHTS:
        assert result[insight].violations == [], insight
        assert result[insight].data["checked"] == 1


def test_public_bucket_flags_a_public_acl_and_a_public_policy(moto: Moto):
    make_bucket(moto, "acl-bucket")
    moto.client("s3").put_bucket_acl(Bucket="acl-bucket", ACL="public-read")
    make_bucket(moto, "policy-bucket")
    make_public_policy(moto, "policy-bucket")
    make_bucket(moto, "private-bucket")

    result = run_buckets(moto, ["public_bucket"])

    outcome = result["public_bucket"]
    assert outcome.message == "2 of 3 bucket(s) public"
    by_resource = {v["resource"]: v for v in outcome.violations}
    assert set(by_resource) == {"arn:aws:s3:::acl-bucket", "arn:aws:s3:::policy-bucket"}
    acl = by_resource["arn:aws:s3:::acl-bucket"]
    assert acl["message"] == "S3 bucket acl-bucket is public: its ACL grants READ to AllUsers"
    assert acl["data"]["public_acl_grants"] == [{"grantee": "AllUsers", "permission": "READ"}]
    policy = by_resource["arn:aws:s3:::policy-bucket"]
    assert policy["message"] == "S3 bucket policy-bucket is public: its bucket policy allows public access"
    assert policy["data"]["policy_is_public"] is True
    [record] = [
        r
        for r in get_store().list_findings(status="open", integration="aws")
        if "acl-bucket" in r["resource"]
    ]
    assert (record["task"], record["severity"]) == ("public_bucket", "critical")


def test_public_bucket_respects_public_access_blocks_of_the_bucket_and_the_account(moto: Moto):
    make_bucket(moto, "restricted-bucket")
    make_public_policy(moto, "restricted-bucket")
    moto.client("s3").put_public_access_block(
        Bucket="restricted-bucket", PublicAccessBlockConfiguration={"RestrictPublicBuckets": True}
    )
    make_bucket(moto, "acl-bucket")
    moto.client("s3").put_bucket_acl(Bucket="acl-bucket", ACL="public-read-write")

    result = run_buckets(moto, ["public_bucket"])
    assert [v["resource"] for v in result["public_bucket"].violations] == ["arn:aws:s3:::acl-bucket"]

    moto.client("s3control").put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration=ALL_BLOCKED
    )
    result = run_buckets(moto, ["public_bucket"])
    assert result["public_bucket"].violations == []
    assert result["public_bucket"].message == "0 of 2 bucket(s) public"


def test_bucket_without_encryption_flags_a_bucket_with_no_default_encryption(moto: Moto):
    make_bucket(moto, "plain-bucket", encrypted=False)
    make_bucket(moto, "sealed-bucket")

    result = run_buckets(moto, ["bucket_without_encryption"])

    outcome = result["bucket_without_encryption"]
    assert outcome.message == "1 of 2 bucket(s) without default encryption"
    [violation] = outcome.violations
    assert violation["resource"] == "arn:aws:s3:::plain-bucket"
    assert violation["message"] == "S3 bucket plain-bucket has no default encryption"
    assert violation["data"]["encryption"] == []
    [record] = get_store().list_findings(status="open", integration="aws")
    assert record["severity"] == "high"


def test_bucket_without_versioning_flags_never_enabled_and_suspended(moto: Moto):
    make_bucket(moto, "never-bucket", versioning=None)
    make_bucket(moto, "paused-bucket", versioning="Suspended")
    make_bucket(moto, "kept-bucket")

    result = run_buckets(moto, ["bucket_without_versioning"])

    outcome = result["bucket_without_versioning"]
    assert outcome.message == "2 of 3 bucket(s) without versioning"
    messages = {v["resource"]: v["message"] for v in outcome.violations}
    assert messages == {
        "arn:aws:s3:::never-bucket": "S3 bucket never-bucket has versioning disabled",
        "arn:aws:s3:::paused-bucket": "S3 bucket paused-bucket has versioning suspended",
    }
    assert {r["severity"] for r in get_store().list_findings(status="open", integration="aws")} == {"low"}


def test_a_denied_call_on_one_bucket_is_an_error_and_the_rest_is_collected(moto: Moto):
    make_bucket(moto, "open-bucket", encrypted=False)
    make_bucket(moto, "denied-bucket", encrypted=False)
    moto.client("s3").put_bucket_acl(Bucket="denied-bucket", ACL="public-read")
    make_bucket(moto, "blocked-bucket")
    moto.client("s3").put_public_access_block(
        Bucket="blocked-bucket", PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
    )
    keys = moto.create_user(
        "auditor",
        [
            {"Effect": "Allow", "Action": ["s3:*", "sts:*"], "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:GetBucketAcl",
                "Resource": ["arn:aws:s3:::denied-bucket", "arn:aws:s3:::blocked-bucket"],
            },
        ],
    )
    moto.enable_auth()

    result = run_integration("aws", moto.config(**keys), tasks=V2 + BUCKET_INSIGHTS)

    assert result.success, result.errors
    collector = result["list_buckets_v2"]
    assert sorted(collector.errors) == [
        "bucket blocked-bucket: s3 GetBucketAcl failed (AccessDenied): Access Denied",
        "bucket denied-bucket: s3 GetBucketAcl failed (AccessDenied): Access Denied",
    ]
    buckets = {b["name"]: b for b in collector.data["buckets"]}
    assert buckets["denied-bucket"]["public_acl_grants"] is None
    assert buckets["denied-bucket"]["encryption"] == []
    assert buckets["open-bucket"]["public_acl_grants"] == []
    # The unreadable ACL is counted as unknown, not as a pass; an ignored ACL does not matter.
    public = result["public_bucket"]
    assert public.violations == []
    assert public.message == "0 of 3 bucket(s) public, 1 unknown"
    assert public.data["unknown"] == ["denied-bucket"]
    # What could be read is still judged.
    assert len(result["bucket_without_encryption"].violations) == 2
    assert result["bucket_without_encryption"].data["unknown"] == []


def test_bucket_insights_fail_when_no_bucket_could_be_read(moto: Moto):
    make_bucket(moto, "sealed-bucket")
    keys = moto.create_user(
        "auditor",
        [
            {"Effect": "Allow", "Action": ["s3:*", "sts:*"], "Resource": "*"},
            {
                "Effect": "Deny",
                # AWS checks GetBucketEncryption as s3:GetEncryptionConfiguration, moto as s3:ListBucket.
                "Action": [
                    "s3:GetBucketAcl",
                    "s3:GetBucketPolicyStatus",
                    "s3:GetEncryptionConfiguration",
                    "s3:ListBucket",
                    "s3:GetBucketVersioning",
                ],
                "Resource": "arn:aws:s3:::sealed-bucket",
            },
        ],
    )
    moto.enable_auth()

    result = run_integration("aws", moto.config(**keys), tasks=V2 + BUCKET_INSIGHTS)

    assert result["list_buckets_v2"].status == "succeeded"
    errors = "\n".join(result["list_buckets_v2"].errors)
    for call in ["GetBucketAcl", "GetBucketPolicyStatus", "GetBucketEncryption", "GetBucketVersioning"]:
        assert f"bucket sealed-bucket: s3 {call} failed (AccessDenied)" in errors, errors
    errors = {insight: result[insight].error for insight in BUCKET_INSIGHTS}
    assert {insight: result[insight].status for insight in BUCKET_INSIGHTS} == dict.fromkeys(
        BUCKET_INSIGHTS, "failed"
    ), errors
    assert (
        "the policy status or ACL of every bucket could not be read (sealed-bucket)"
        in errors["public_bucket"]
    )
    assert "the default encryption of every bucket could not be read" in errors["bucket_without_encryption"]
    assert "the versioning status of every bucket could not be read" in errors["bucket_without_versioning"]
    assert all("the errors of list_buckets_v2 say why" in e for e in errors.values()), errors
    assert not any(result[insight].violations for insight in BUCKET_INSIGHTS)


def test_a_denied_bucket_listing_fails_the_collector_with_aws_error_code(moto: Moto):
    keys = moto.create_user(
        "nobody", [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]
    )
    moto.enable_auth()

    result = run_integration("aws", moto.config(**keys), tasks=[*V2, "public_bucket"])

    assert not result.success
    assert result["list_buckets_v2"].status == "failed"
    assert "s3 ListBuckets failed (AccessDenied)" in result["list_buckets_v2"].error
    assert result["public_bucket"].status == "skipped"
