"""Authentication: rejected keys, role assumption, and no secret in any log or error."""

from __future__ import annotations

import importlib
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from moto.sts.models import sts_backends

from integrations_pipeline.testing import run_integration, secret_leaks

from .conftest import ACCOUNT, Moto

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/auditor"
EXTERNAL_ID = "external-id-5f1c9e2a"
WRONG_SECRET = "not-the-secret-access-key-1234"
SESSION_TOKEN = "session-token-7d3e0b6c41a2"
READ_ALL = [{"Effect": "Allow", "Action": ["s3:*", "iam:*", "sts:*"], "Resource": "*"}]


def make_role(moto: Moto, trusted_user: str) -> None:
    """Role ``auditor``, which ``trusted_user`` may assume with EXTERNAL_ID, allowed to read everything."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{trusted_user}"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    iam = moto.client("iam")
    iam.create_role(RoleName="auditor", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="auditor",
        PolicyName="read-all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": READ_ALL}),
    )


def jump_user(moto: Moto) -> dict[str, str]:
    """User ``jump``, which may only assume roles; the role does the reading."""
    keys = moto.create_user("jump", [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}])
    make_role(moto, "jump")
    moto.client("s3").create_bucket(Bucket="role-bucket")
    moto.enable_auth()
    return keys


@pytest.mark.parametrize(
    ("wrong", "code"),
    [("access_key_id", "InvalidClientTokenId"), ("secret_access_key", "SignatureDoesNotMatch")],
)
def test_rejected_credentials_fail_the_run_naming_aws_error_code(moto: Moto, wrong: str, code: str):
    keys = moto.create_user("alice", READ_ALL)
    moto.enable_auth()
    keys[wrong] = "WRONGWRONGWRONGWRONG" + keys[wrong][20:]

    result = run_integration("aws", moto.config(**keys))

    assert not result.success
    assert any(f"AWS rejected the credentials ({code})" in e for e in result.errors), result.errors
    assert {o.status for o in result.tasks.values()} == {"skipped"}
    assert not secret_leaks(result, [keys["secret_access_key"], keys["access_key_id"]])


def test_collectors_run_as_the_assumed_role(moto: Moto):
    keys = jump_user(moto)

    result = run_integration("aws", moto.config(**keys, role_arn=ROLE_ARN, external_id=EXTERNAL_ID))

    assert result.success, result.errors
    summary = result["get_account_summary"].data
    assert summary["caller_arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/auditor/integrations-aws"
    assert [b["name"] for b in result["list_buckets_v2"].data["buckets"]] == ["role-bucket"]
    assert [u["name"] for u in result["list_iam_users"].data["users"]] == ["jump"]


def test_a_role_that_cannot_be_assumed_fails_the_run_naming_the_role(moto: Moto):
    keys = jump_user(moto)

    result = run_integration("aws", moto.config(**keys, role_arn=ROLE_ARN, external_id="not-the-external-id"))

    assert not result.success
    assert any(f"could not assume role {ROLE_ARN} (AccessDenied)" in e for e in result.errors), result.errors


def test_without_the_role_the_user_cannot_read(moto: Moto):
    keys = jump_user(moto)

    result = run_integration("aws", moto.config(**keys), tasks=["list_buckets"])

    assert "s3 ListBuckets failed (AccessDenied)" in result["list_buckets"].error


def test_no_secret_in_logs_errors_or_the_event_log(
    moto: Moto, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)  # botocore logs requests, signatures and responses at DEBUG
    keys = jump_user(moto)
    config = moto.config(**keys, role_arn=ROLE_ARN, external_id=EXTERNAL_ID)
    wrong = {**config, "secret_access_key": WRONG_SECRET, "session_token": SESSION_TOKEN}
    caplog.clear()  # the setup's own calls show the keys
    capfd.readouterr()

    result = run_integration("aws", config)
    failed = run_integration("aws", wrong)

    assert result.success, result.errors
    assert any("AWS rejected the credentials (InvalidClientTokenId)" in e for e in failed.errors), (
        failed.errors
    )
    secrets = [keys["access_key_id"], keys["secret_access_key"], EXTERNAL_ID, WRONG_SECRET, SESSION_TOKEN]
    captured = [caplog.text, *capfd.readouterr()]
    assert "Credential=***/" in caplog.text  # botocore did log the signed requests: the check can fail
    assert not secret_leaks(result, secrets, *captured)
    assert not secret_leaks(failed, secrets)
    # The role's temporary credentials stay out of the run's records too.
    assert not secret_leaks(result, role_session_secrets())


def test_temporary_role_credentials_stay_out_of_debug_logs(moto: Moto, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    keys = jump_user(moto)
    caplog.clear()

    result = run_integration("aws", moto.config(**keys, role_arn=ROLE_ARN, external_id=EXTERNAL_ID))

    assert result.success, result.errors
    secrets = role_session_secrets()
    assert len(secrets) == 3
    # botocore did log the AssumeRole response and the signed requests: the check can fail.
    assert "<AssumeRoleResponse" in caplog.text and "X-Amz-Security-Token" in caplog.text
    assert not secret_leaks(result, secrets, caplog.text)


def test_role_credentials_are_renewed_before_they_expire(
    moto: Moto, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    # AWS's shortest session, 15 minutes, is inside botocore's advisory refresh window (15 minutes
    # before expiry): every call renews the credentials.
    monkeypatch.setattr(importlib.import_module("integrations.aws.aws_api"), "ROLE_SESSION_SECONDS", 900)
    caplog.set_level(logging.DEBUG)
    keys = jump_user(moto)
    caplog.clear()

    result = run_integration(
        "aws",
        moto.config(**keys, role_arn=ROLE_ARN, external_id=EXTERNAL_ID),
        tasks=["get_account_summary", "list_buckets"],
    )

    assert result.success, result.errors
    assert result["get_account_summary"].data["caller_arn"].endswith(":assumed-role/auditor/integrations-aws")
    assert [b["name"] for b in result["list_buckets"].data["buckets"]] == ["role-bucket"]
    sessions = sts_backends[ACCOUNT]["global"].assumed_roles
    assert len({s.access_key_id for s in sessions}) >= 3, "StageOne's AssumeRole and renewals"
    latest = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=900)  # moto's times are naive UTC
    assert all(s.expiration <= latest for s in sessions)
    # Every renewed set is a secret from the start.
    assert not secret_leaks(result, role_session_secrets(), caplog.text)


def role_session_secrets() -> list[str]:
    """The access key id, secret key and session token of each session moto gave the assumed role."""
    return [
        value
        for s in sts_backends[ACCOUNT]["global"].assumed_roles
        for value in (s.access_key_id, s.secret_access_key, s.session_token)
    ]
