from integrations_pipeline.sdk import TaskContext, task


@task(name="check_groups", title="Admins group exists", type="insight", order=510)
def check_groups(self, ctx: TaskContext):
    groups = ctx.get_data("list_groups")["groups"]
    return {"violation": "admins" not in groups, "data": groups, "message": "checked groups"}
