from integrations_pipeline.sdk import TaskContext, task

from ._unknown import fail_if_nothing_judged, unknown_note


@task(
    name="old_access_key",
    title="Access key older than the maximum age",
    description="An active IAM user access key older than access_key_max_age_days (90 by default)",
    type="insight",
    severity="medium",
)
def old_access_key(self, ctx: TaskContext):
    max_age = ctx.config["access_key_max_age_days"]
    users = ctx.get_data("list_iam_users")["users"]
    # None: the user's keys could not be listed (an error is recorded on the collector).
    unknown = [user["name"] for user in users if user["access_keys"] is None]
    fail_if_nothing_judged(unknown, len(users), "the access keys of every IAM user", "list_iam_users")
    violations = [
        {
            "resource": f"{user['arn']}/{key['id']}",
            "message": (
                f"Access key {key['id']} of IAM user {user['name']} is {key['age_days']} days old "
                f"(maximum {max_age})"
            ),
            "data": {"user": user["name"], "max_age_days": max_age, **key},
        }
        for user in users
        for key in user["access_keys"] or []
        if key["status"] == "Active" and key["age_days"] > max_age
    ]
    checked = sum(len(user["access_keys"] or []) for user in users)
    return {
        "data": {
            "checked_keys": checked,
            "max_age_days": max_age,
            "old": [v["data"]["id"] for v in violations],
            "unknown_users": unknown,
        },
        "message": (
            f"{len(violations)} of {checked} access key(s) older than {max_age} days"
            f"{unknown_note(unknown, 'user(s) whose keys are ')}"
        ),
        "violations": violations,
    }
