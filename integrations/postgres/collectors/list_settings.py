from integrations_pipeline.sdk import TaskContext, task

from ..server import query

NAMES = [
    "ssl",
    "ssl_min_protocol_version",
    "password_encryption",
    "log_connections",
    "log_disconnections",
]

SETTINGS = "SELECT name, setting AS value, source FROM pg_settings WHERE name = ANY(%s) ORDER BY name"

# Values that roles and databases set for themselves (ALTER ROLE / DATABASE ... SET).
OVERRIDES = """
SELECT coalesce(d.datname, '') AS database, coalesce(r.rolname, '') AS role,
       split_part(c.config, '=', 1) AS name, substr(c.config, strpos(c.config, '=') + 1) AS value
FROM pg_db_role_setting s
LEFT JOIN pg_database d ON d.oid = s.setdatabase
LEFT JOIN pg_roles r ON r.oid = s.setrole
CROSS JOIN LATERAL unnest(s.setconfig) AS c(config)
WHERE split_part(c.config, '=', 1) = ANY(%s)
ORDER BY 1, 2, 3
"""


@task(
    name="list_settings",
    title="List security settings",
    description="Server settings for SSL, password hashing and connection logging, "
    "and the values roles and databases set for themselves",
    type="collector",
)
def list_settings(self, ctx: TaskContext):
    with ctx.base("server").connect() as conn:
        settings = {row.pop("name"): row for row in query(conn, SETTINGS, (NAMES,))}
        overrides = query(conn, OVERRIDES, (NAMES,))
    for name in NAMES:
        if name not in settings:
            ctx.add_error(f"setting '{name}' is not visible to '{ctx.base('user')}'")
    return {
        "data": {
            "server_version": ctx.base("server_version"),
            "settings": settings,
            "overrides": overrides,
        },
        "message": f"{len(settings)} settings, {len(overrides)} role or database overrides",
    }
