from integrations_pipeline.sdk import TaskContext, task


@task(name="check_admins", title="Unexpected admins", type="insight", severity="critical")
def check_admins(self, ctx: TaskContext):
    allowed = set(ctx.config.get("admins_allowed", []))
    admins = [u["name"] for u in ctx.get_data("list_users") if u["admin"] and u["name"] not in allowed]
    ctx.add_log(f"previous message: {ctx.get_message('list_users')}")
    return {
        "violation": bool(admins),
        "data": {"admins": admins},
        "message": f"unexpected admins: {', '.join(admins)}" if admins else "no unexpected admins",
    }
