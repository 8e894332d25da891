from integrations_pipeline.sdk import TaskContext, task


@task(
    name="extra_superusers",
    title="Superusers besides the bootstrap role",
    description="Superusers bypass every permission check; only the bootstrap role (and the "
    "roles listed in allowed_superusers) should be one",
    type="insight",
    severity="high",
)
def extra_superusers(self, ctx: TaskContext):
    roles = ctx.get_data("list_roles")["roles"]
    allowed = set(ctx.config.get("allowed_superusers") or ())
    superusers = [role for role in roles if role["superuser"]]
    extra = [role for role in superusers if not role["bootstrap"] and role["name"] not in allowed]
    server = ctx.base("server")
    return {
        "data": {"superusers": [role["name"] for role in superusers], "allowed": sorted(allowed)},
        "message": f"{len(extra)} superuser(s) besides the bootstrap role"
        + (f": {', '.join(role['name'] for role in extra)}" if extra else ""),
        "violations": [
            {
                "resource": server.resource("role", role["name"]),
                "message": f"role '{role['name']}' is a superuser",
                "data": role,
            }
            for role in extra
        ],
    }
