from integrations_pipeline.sdk import TaskContext, task


@task(
    name="public_schema_create",
    title="Anyone can create objects in schema public",
    description="CREATE on schema public for PUBLIC lets every role create objects that other "
    "roles may run by accident (search_path hijacking, CVE-2018-1058)",
    type="insight",
    severity="medium",
)
def public_schema_create(self, ctx: TaskContext):
    databases = ctx.get_data("list_databases")["databases"]
    inspected = [db for db in databases if db["public_schema"] is not None]
    open_ = [db for db in inspected if db["public_schema"]["public_create"]]
    server = ctx.base("server")
    return {
        "data": {
            "inspected": [db["name"] for db in inspected],
            "public_create": [db["name"] for db in open_],
        },
        "message": f"{len(open_)} of {len(inspected)} database(s) let PUBLIC create in schema public",
        "violations": [
            {
                "resource": server.resource("database", db["name"], "schema", "public"),
                "message": f"PUBLIC has CREATE on schema public in database '{db['name']}'",
                "data": {"database": db["name"], **db["public_schema"]},
            }
            for db in open_
        ],
    }
