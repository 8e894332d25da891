from integrations_pipeline.sdk import TaskContext, task

from ..server import each_database

EXTENSIONS = """
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname
"""


@task(
    name="list_extensions",
    title="List extensions",
    description="Extensions installed in each database",
    type="collector",
)
def list_extensions(self, ctx: TaskContext):
    by_database = each_database(ctx, EXTENSIONS)
    count = sum(len(extensions) for extensions in by_database.values())
    return {
        "data": {"databases": by_database},
        "message": f"{count} extensions in {len(by_database)} databases",
    }
