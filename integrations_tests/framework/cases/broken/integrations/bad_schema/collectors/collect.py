from integrations_pipeline.sdk import TaskContext, task


@task(name="collect")
def collect(self, ctx: TaskContext):
    return {"data": [1, 2, 3], "message": "three"}
