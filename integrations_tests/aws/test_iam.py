"""IAM: the user and account collectors and the MFA, access key age and root key insights, against moto."""

from __future__ import annotations

from datetime import timedelta

from moto.iam.models import iam_backends

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration

from .conftest import ACCOUNT, Moto

USERS = ["list_iam_users"]
IAM_INSIGHTS = ["console_user_without_mfa", "old_access_key", "root_access_keys"]
ALL_IAM = [*USERS, "get_account_summary", *IAM_INSIGHTS]


def make_user(moto: Moto, name: str, *, console: bool = False, mfa: bool = False) -> None:
    iam = moto.client("iam")
    iam.create_user(UserName=name)
    if console:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-9")
    if mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )


def make_key(moto: Moto, user: str, *, age_days: int = 0, active: bool = True) -> str:
    """An access key of ``user`` created ``age_days`` ago.

    The API cannot back-date a key, so the creation date is set on moto's backend: the
    server runs in this process and serves the change.
    """
    iam = moto.client("iam")
    key_id = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    if not active:
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    [key] = [k for k in iam_backends[ACCOUNT]["aws"].users[user].access_keys if k.access_key_id == key_id]
    key.create_date -= timedelta(days=age_days)
    return key_id


def findings(task: str) -> list[dict]:
    return [r for r in get_store().list_findings(status="open", integration="aws") if r["task"] == task]


def test_list_iam_users_collects_console_access_mfa_devices_and_keys(moto: Moto):
    make_user(moto, "alice", console=True, mfa=True)
    old = make_key(moto, "alice", age_days=120, active=False)
    make_user(moto, "bob")

    result = run_integration("aws", moto.config(), tasks=USERS)

    assert result.success, result.errors
    assert result["list_iam_users"].message == "Found 2 IAM user(s)"
    alice, bob = result["list_iam_users"].data["users"]
    assert alice["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert alice["console_access"] is True and alice["password_created"]
    assert alice["mfa_devices"] == [f"arn:aws:iam::{ACCOUNT}:mfa/alice"]
    [key] = alice["access_keys"]
    assert (key["id"], key["status"], key["age_days"]) == (old, "Inactive", 120)
    assert bob["console_access"] is False and bob["password_created"] is None
    assert bob["mfa_devices"] == [] and bob["access_keys"] == []


def test_iam_insights_pass_on_an_empty_account(moto: Moto):
    result = run_integration("aws", moto.config(), tasks=ALL_IAM)
    assert result.success, result.errors
    for insight in IAM_INSIGHTS:
        assert result[insight].status == "succeeded", (insight, result[insight].error)
        assert result[insight].violations == [], insight
    assert result["console_user_without_mfa"].message == "0 console user(s) without MFA"
    assert result["old_access_key"].message == "0 of 0 access key(s) older than 90 days"
    assert result["root_access_keys"].message == f"The root user of account {ACCOUNT} has no access keys"


def test_iam_insights_pass_on_compliant_users(moto: Moto):
    make_user(moto, "alice", console=True, mfa=True)
    make_key(moto, "alice", age_days=30)
    make_user(moto, "robot")
    make_key(moto, "robot", age_days=200, active=False)

    result = run_integration("aws", moto.config(), tasks=ALL_IAM)

    assert result.success, result.errors
    for insight in IAM_INSIGHTS:
        assert result[insight].violations == [], insight
    assert result["console_user_without_mfa"].data["console_users"] == 1
    assert result["old_access_key"].message == "0 of 2 access key(s) older than 90 days"


def test_console_user_without_mfa_flags_console_users_without_a_device(moto: Moto):
    make_user(moto, "alice", console=True)
    make_user(moto, "bob", console=True, mfa=True)
    make_user(moto, "robot")

    result = run_integration("aws", moto.config(), tasks=[*USERS, "console_user_without_mfa"])

    outcome = result["console_user_without_mfa"]
    assert outcome.message == "1 console user(s) without MFA"
    [violation] = outcome.violations
    assert violation["resource"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert violation["message"] == "IAM user alice can sign in to the console without MFA"
    assert violation["data"]["mfa_devices"] == []
    assert [r["severity"] for r in findings("console_user_without_mfa")] == ["high"]


def test_old_access_key_flags_active_keys_older_than_90_days(moto: Moto):
    make_user(moto, "alice")
    old = make_key(moto, "alice", age_days=200)
    make_key(moto, "alice", age_days=45)
    make_user(moto, "bob")
    make_key(moto, "bob", age_days=300, active=False)

    result = run_integration("aws", moto.config(), tasks=[*USERS, "old_access_key"])

    outcome = result["old_access_key"]
    assert outcome.message == "1 of 3 access key(s) older than 90 days"
    [violation] = outcome.violations
    assert violation["resource"] == f"arn:aws:iam::{ACCOUNT}:user/alice/{old}"
    assert violation["message"] == f"Access key {old} of IAM user alice is 200 days old (maximum 90)"
    assert violation["data"]["age_days"] == 200 and violation["data"]["status"] == "Active"
    assert [r["severity"] for r in findings("old_access_key")] == ["medium"]


def test_access_key_max_age_days_sets_the_limit(moto: Moto):
    make_user(moto, "alice")
    key = make_key(moto, "alice", age_days=45)

    result = run_integration("aws", moto.config(access_key_max_age_days=30), tasks=[*USERS, "old_access_key"])

    [violation] = result["old_access_key"].violations
    assert violation["message"] == f"Access key {key} of IAM user alice is 45 days old (maximum 30)"


def test_root_access_keys_flags_the_root_user(moto: Moto):
    # The root user cannot be given keys through the API: moto reports AccountAccessKeysPresent
    # from its backend, which the in-process server serves.
    iam_backends[ACCOUNT]["aws"].account_summary._account_access_keys_present = 1

    result = run_integration("aws", moto.config(), tasks=["get_account_summary", "root_access_keys"])

    outcome = result["root_access_keys"]
    [violation] = outcome.violations
    assert violation["resource"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert violation["message"] == f"The root user of account {ACCOUNT} has access keys"
    assert violation["data"]["AccountAccessKeysPresent"] == 1
    assert [r["severity"] for r in findings("root_access_keys")] == ["critical"]


def test_a_denied_call_on_a_user_is_an_error_and_the_user_is_counted_unknown(moto: Moto):
    make_user(moto, "alice", console=True)
    make_user(moto, "bob")
    keys = moto.create_user(
        "auditor",
        [
            {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:ListMFADevices", "Resource": "*"},
        ],
    )
    moto.enable_auth()

    result = run_integration("aws", moto.config(**keys), tasks=[*USERS, "console_user_without_mfa"])

    assert result.success, result.errors
    errors = result["list_iam_users"].errors
    assert "IAM user alice: iam ListMFADevices failed (AccessDenied)" in "\n".join(errors), errors
    alice = next(u for u in result["list_iam_users"].data["users"] if u["name"] == "alice")
    assert alice["console_access"] is True and alice["mfa_devices"] is None
    # Users without a console password (bob, auditor) are judged whatever their MFA devices; alice is not.
    outcome = result["console_user_without_mfa"]
    assert outcome.violations == []
    assert outcome.message == "0 console user(s) without MFA, 1 user(s) unknown"
    assert outcome.data["unknown"] == ["alice"]


def test_iam_insights_fail_when_no_user_could_be_read(moto: Moto):
    make_user(moto, "alice", console=True)
    keys = moto.create_user(
        "auditor",
        [
            {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["iam:GetLoginProfile", "iam:ListMFADevices", "iam:ListAccessKeys"],
                "Resource": "*",
            },
        ],
    )
    moto.enable_auth()

    result = run_integration(
        "aws", moto.config(**keys), tasks=[*USERS, "console_user_without_mfa", "old_access_key"]
    )

    assert result["list_iam_users"].status == "succeeded"
    mfa, old = result["console_user_without_mfa"], result["old_access_key"]
    assert (mfa.status, old.status) == ("failed", "failed"), (mfa.message, old.message)
    assert (
        "the console access or MFA devices of every IAM user could not be read (alice, auditor); "
        "the errors of list_iam_users say why"
    ) in mfa.error
    assert "the access keys of every IAM user could not be read (alice, auditor)" in old.error
    assert mfa.violations == [] and old.violations == []
