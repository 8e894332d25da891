from psycopg2 import errors

from integrations_pipeline.sdk import TaskContext, task

from ..server import SERVER_SOURCES, query

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


# The value the configuration files give, for a setting this session sees as overridden by a
# role or database (superuser only, like pg_file_settings itself).
FILE_VALUE = """
SELECT setting FROM pg_file_settings WHERE name = %s AND applied AND error IS NULL
ORDER BY seqno DESC LIMIT 1
"""
BOOT_VALUE = "SELECT boot_val FROM pg_settings WHERE name = %s"


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
        for name, setting in settings.items():
            setting["server_value"] = _server_value(ctx, conn, name, setting)
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


def _server_value(ctx: TaskContext, conn, name: str, setting: dict) -> str | None:
    """The server's own value of a setting; None if only an override of it can be seen."""
    if setting["source"] in SERVER_SOURCES:
        return setting["value"]
    try:
        rows = query(conn, FILE_VALUE, (name,)) or query(conn, BOOT_VALUE, (name,))
    except errors.InsufficientPrivilege:
        ctx.add_error(
            f"setting '{name}' is overridden for '{ctx.base('user')}' ({setting['source']}) and "
            "reading the server's own value from pg_file_settings needs superuser"
        )
        return None
    return next(iter(rows[0].values())) if rows else None
