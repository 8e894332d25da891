from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from integrations_pipeline.sdk import TaskContext, task

from ..aws_api import Aws, aws_errors, try_read

WORKERS = 8  # users read at once


@task(
    name="list_iam_users",
    title="List IAM users",
    description="Per IAM user: console access (login profile), MFA devices and access keys with their ages",
    type="collector",
)
def list_iam_users(self, ctx: TaskContext):
    aws: Aws = ctx.base("aws")
    with aws_errors("iam ListUsers"):
        listed = [
            user
            for page in aws.client("iam").get_paginator("list_users").paginate()
            for user in page["Users"]
        ]
    now = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        users = list(pool.map(lambda user: _user(ctx, aws, user, now), listed))
    return {"data": {"users": users}, "message": f"Found {len(users)} IAM user(s)"}


def _user(ctx: TaskContext, aws: Aws, listed: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One user's sign-in settings; a part that could not be read is None (and an error is recorded)."""
    name = listed["UserName"]
    iam = aws.client("iam")

    def read(call: str, fetch: Any, **absent: Any) -> Any:
        return try_read(ctx.add_error, f"IAM user {name}: iam {call}", fetch, **absent)

    def all_pages(operation: str, key: str) -> list[dict[str, Any]]:
        return [item for page in iam.get_paginator(operation).paginate(UserName=name) for item in page[key]]

    # No login profile means no console password: NoSuchEntity is the answer, not a failure.
    profile = read(
        "GetLoginProfile",
        lambda: iam.get_login_profile(UserName=name)["LoginProfile"],
        absent_codes=frozenset({"NoSuchEntity"}),
        absent={},
    )
    devices = read("ListMFADevices", lambda: all_pages("list_mfa_devices", "MFADevices"))
    keys = read("ListAccessKeys", lambda: all_pages("list_access_keys", "AccessKeyMetadata"))
    return {
        "name": name,
        "arn": listed["Arn"],
        "created": listed["CreateDate"].isoformat(),
        "console_access": None if profile is None else bool(profile),
        "password_created": profile["CreateDate"].isoformat() if profile else None,
        "mfa_devices": None if devices is None else [device["SerialNumber"] for device in devices],
        "access_keys": None
        if keys is None
        else [
            {
                "id": key["AccessKeyId"],
                "status": key["Status"],
                "created": key["CreateDate"].isoformat(),
                "age_days": (now - key["CreateDate"]).days,
            }
            for key in keys
        ],
    }
