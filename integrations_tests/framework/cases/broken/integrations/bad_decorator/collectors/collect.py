from integrations_pipeline.sdk import TaskContext, task


@task(name="collect", severity="high")
def collect(self, ctx: TaskContext):
    return {"data": []}
