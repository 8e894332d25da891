from typing import Any

from integrations_pipeline.sdk import TaskContext, task

from ._unknown import fail_if_nothing_judged, unknown_note


@task(
    name="console_user_without_mfa",
    title="Console user without MFA",
    description="An IAM user with a console password and no MFA device",
    type="insight",
    severity="high",
)
def console_user_without_mfa(self, ctx: TaskContext):
    users = ctx.get_data("list_iam_users")["users"]
    exposed = [u for u in users if u["console_access"] is True and u["mfa_devices"] == []]
    unknown = [u["name"] for u in users if _unknown(u)]
    fail_if_nothing_judged(
        unknown, len(users), "the console access or MFA devices of every IAM user", "list_iam_users"
    )
    return {
        "data": {
            "checked": len(users),
            "console_users": sum(1 for u in users if u["console_access"]),
            "without_mfa": [u["name"] for u in exposed],
            "unknown": unknown,
        },
        "message": f"{len(exposed)} console user(s) without MFA{unknown_note(unknown, 'user(s) ')}",
        "violations": [
            {
                "resource": u["arn"],
                "message": f"IAM user {u['name']} can sign in to the console without MFA",
                "data": {
                    "user": u["name"],
                    "password_created": u["password_created"],
                    "mfa_devices": u["mfa_devices"],
                },
            }
            for u in exposed
        ],
    }


def _unknown(user: dict[str, Any]) -> bool:
    """A part that decides could not be read (None; an error is recorded on the collector)."""
    if user["console_access"] is False or user["mfa_devices"]:
        return False  # no console password, or an MFA device: fine whatever the other part is
    return user["console_access"] is None or user["mfa_devices"] is None
