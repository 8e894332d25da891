from integrations_pipeline.sdk import TaskContext, task


@task(name="check_retired", title="Reads a disabled collector", type="insight")
def check_retired(self, ctx: TaskContext):
    return {"data": ctx.get_data("retired_collector")}
