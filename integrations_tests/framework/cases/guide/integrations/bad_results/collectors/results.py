from integrations_pipeline.sdk import TaskContext, task


@task(name="returns_string")
def returns_string(self, ctx: TaskContext):
    return "all good"


@task(name="missing_data")
def missing_data(self, ctx: TaskContext):
    return {"message": "forgot the data"}


@task(name="good_collector")
def good_collector(self, ctx: TaskContext):
    return {"data": {"n": 1}}
