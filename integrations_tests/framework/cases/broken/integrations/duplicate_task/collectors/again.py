from integrations_pipeline.sdk import TaskContext, task


@task(name="collect")
def collect_again(self, ctx: TaskContext):
    return {"data": []}
