from integrations_pipeline.sdk import TaskContext, task


@task(
    name="login_roles_without_password",
    title="Login roles without a password",
    description="A role that can log in but has no password is protected only by pg_hba.conf; "
    "with trust authentication anyone who reaches the server can be it",
    type="insight",
    severity="critical",
)
def login_roles_without_password(self, ctx: TaskContext):
    logins = [role for role in ctx.get_data("list_roles")["roles"] if role["login"]]
    if any(role["password_set"] is None for role in logins):
        raise PermissionError(
            "whether login roles have a password is unknown: list_roles could not read pg_authid "
            "(connect as a superuser)"
        )
    without = [role for role in logins if not role["password_set"]]
    server = ctx.base("server")
    return {
        "data": {"login_roles": len(logins), "without_password": [role["name"] for role in without]},
        "message": f"{len(without)} of {len(logins)} login role(s) have no password",
        "violations": [
            {
                "resource": server.resource("role", role["name"]),
                "message": f"role '{role['name']}' can log in and has no password",
                "data": role,
            }
            for role in without
        ],
    }
