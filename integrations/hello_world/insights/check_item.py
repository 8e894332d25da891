from integrations_pipeline.sdk import TaskContext, task


@task(
    name="check_item",
    title="Check for specific item",
    description="Checks if item_1 exists in the list",
    type="insight",
    severity="high",
)
def check_item(self, ctx: TaskContext):
    data = ctx.get_data("list_items")
    items = data.get("items", [])

    for item in items:
        if item["name"] == "item_1":
            return {
                "violation": True,
                "data": {"total_items": len(items), "items": items},
                "message": "Found item_1 in item list",
            }

    return {
        "violation": False,
        "data": {"total_items": len(items), "items": items},
        "message": "item_1 not found",
    }
