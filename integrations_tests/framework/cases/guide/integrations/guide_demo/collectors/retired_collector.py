from integrations_pipeline.sdk import TaskContext, task


@task(name="retired_collector", title="Retired", enabled=False)
def retired_collector(self, ctx: TaskContext):
    raise AssertionError("a disabled task must never run")
