from integrations_pipeline.sdk import TaskContext, task


@task(name="violation_not_bool", type="insight")
def violation_not_bool(self, ctx: TaskContext):
    return {"data": ctx.get_data("good_collector"), "violation": "yes"}


@task(name="data_wrong_type", type="insight")
def data_wrong_type(self, ctx: TaskContext):
    ctx.get_data("good_collector")
    return {"data": 42, "violation": False}
