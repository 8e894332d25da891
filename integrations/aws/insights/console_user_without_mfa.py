from integrations_pipeline.sdk import TaskContext, task


@task(
    name="console_user_without_mfa",
    title="Console user without MFA",
    description="An IAM user with a console password and no MFA device",
    type="insight",
    severity="high",
)
def console_user_without_mfa(self, ctx: TaskContext):
    users = ctx.get_data("list_iam_users")["users"]
    # None: could not be read (an error is recorded on the collector); such users are not judged.
    exposed = [u for u in users if u["console_access"] is True and u["mfa_devices"] == []]
    return {
        "data": {
            "checked": len(users),
            "console_users": sum(1 for u in users if u["console_access"]),
            "without_mfa": [u["name"] for u in exposed],
        },
        "message": f"{len(exposed)} console user(s) without MFA",
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
