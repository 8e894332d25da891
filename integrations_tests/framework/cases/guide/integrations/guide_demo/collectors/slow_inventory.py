import time

from integrations_pipeline.sdk import TaskContext, task


@task(name="slow_inventory", title="Slow inventory", order=30)
def slow_inventory(self, ctx: TaskContext):
    time.sleep(ctx.config.get("slow_seconds", 0))
    return {"data": [], "message": "inventory done"}
