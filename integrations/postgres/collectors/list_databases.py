from integrations_pipeline.sdk import TaskContext, task

from ..server import each_database, query

DATABASES = """
SELECT datname AS name, pg_get_userbyid(datdba) AS owner, datistemplate AS template,
       datallowconn AS allow_connections, pg_encoding_to_char(encoding) AS encoding
FROM pg_database ORDER BY datname
"""

# The public schema's ACL; NULL means the built-in default (owner only).
PUBLIC_SCHEMA = """
SELECT pg_get_userbyid(n.nspowner) AS owner,
       coalesce(n.nspacl, acldefault('n', n.nspowner))::text[] AS acl,
       EXISTS (SELECT FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
               WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS public_create,
       EXISTS (SELECT FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
               WHERE a.grantee = 0 AND a.privilege_type = 'USAGE') AS public_usage
FROM pg_namespace n WHERE n.nspname = 'public'
"""


@task(
    name="list_databases",
    title="List databases",
    description="Databases, their owners and the privileges on each one's public schema",
    type="collector",
)
def list_databases(self, ctx: TaskContext):
    with ctx.base("server").connect() as conn:
        databases = query(conn, DATABASES)
    schemas = each_database(ctx, PUBLIC_SCHEMA)
    for database in databases:
        rows = schemas.get(database["name"])
        database["inspected"] = rows is not None
        database["public_schema"] = rows[0] if rows else None
    return {
        "data": {"databases": databases},
        "message": f"{len(databases)} databases, {len(schemas)} inspected",
    }
