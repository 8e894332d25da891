from integrations_pipeline.sdk import TaskContext, task


@task(
    name="list_items",
    title="List Items",
    description="Fetches all items from the API",
    type="collector",
)
def list_items(self, ctx: TaskContext):
    api_key = ctx.base("api_key")  # noqa: F841 - a real collector would call the API with it

    # Your data fetching logic here
    items = [{"id": "1", "name": "item_1"}]

    return {"data": {"items": items}, "message": f"Found {len(items)} items"}
