from integrations_pipeline.sdk import TaskContext, task


@task(
    name="list_users",
    title="List users",
    description="Users of the account",
    type="collector",
    order=10,
)
def list_users(self, ctx: TaskContext):
    ctx.add_log(f"listing users in {ctx.base('region')} with key {ctx.config['api_key']}")
    limit = ctx.config.get("limits", {}).get("max_users", 10)
    users = [
        {"name": "alice", "admin": True},
        {"name": "bob", "admin": False},
    ][:limit]
    return {
        "data": users,
        "message": f"{len(users)} users (integration {ctx.config['integration_name']})",
    }
