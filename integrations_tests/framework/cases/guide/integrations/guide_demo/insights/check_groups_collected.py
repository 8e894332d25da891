from integrations_pipeline.sdk import TaskContext, task


@task(
    name="check_groups_collected",
    title="Groups were collected",
    type="insight",
    severity="low",
    order=520,
)
def check_groups_collected(self, ctx: TaskContext):
    collected = ctx.succeeded("list_groups")
    return {
        "violation": not collected,
        "data": {"collected": collected},
        "message": "groups collected" if collected else "groups could not be collected",
    }
