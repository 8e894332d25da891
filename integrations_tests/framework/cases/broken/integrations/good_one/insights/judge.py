from integrations_pipeline.sdk import TaskContext, task


@task(name="judge", type="insight", severity="low")
def judge(self, ctx: TaskContext):
    return {"data": ctx.get_data("collect"), "violation": False, "message": "fine"}
