from integrations_pipeline.sdk import TaskContext, task


@task(name="list_groups", title="List groups", order=20)
def list_groups(self, ctx: TaskContext):
    if ctx.config.get("fail_groups"):
        ctx.add_error("retrying the groups API once")
        raise ConnectionError(f"groups API refused key {ctx.config['api_key']}")
    ctx.add_error("group 'legacy' could not be read; skipped it")
    return {"data": {"groups": ["admins", "devs"]}, "message": "2 groups"}
