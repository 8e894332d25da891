from psycopg2 import errors

from integrations_pipeline.sdk import TaskContext, task

from ..server import query

ROLES = """
SELECT r.oid = 10 AS bootstrap, r.rolname AS name, r.rolsuper AS superuser, r.rolcanlogin AS login,
       r.rolcreaterole AS create_role, r.rolcreatedb AS create_db, r.rolreplication AS replication,
       r.rolbypassrls AS bypass_rls, r.rolconnlimit AS connection_limit,
       to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS valid_until,
       coalesce(r.rolvaliduntil < now(), false) AS expired,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY g.rolname) AS member_of
FROM pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY r.rolname
"""

# Only pg_authid says whether a role has a password (pg_roles always shows ********); reading
# it needs superuser. Only the kind of hash is read, never the hash.
PASSWORDS = """
SELECT rolname AS name,
       CASE WHEN rolpassword IS NULL THEN NULL
            WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
            WHEN rolpassword LIKE 'md5%' THEN 'md5'
            ELSE 'other' END AS password
FROM pg_authid
"""


@task(
    name="list_roles",
    title="List roles",
    description="Roles with their attributes (superuser, login, expiry), memberships and, "
    "when readable, whether they have a password and how it is hashed",
    type="collector",
)
def list_roles(self, ctx: TaskContext):
    with ctx.base("server").connect() as conn:
        roles = query(conn, ROLES)
        try:
            hashes = {row["name"]: row["password"] for row in query(conn, PASSWORDS)}
        except errors.InsufficientPrivilege:
            hashes = None
            ctx.add_error(
                f"cannot read pg_authid as '{ctx.base('user')}' (needs superuser): "
                "whether roles have a password is unknown"
            )
    for role in roles:
        role["password_set"] = None if hashes is None else hashes.get(role["name"]) is not None
        role["password_hash"] = None if hashes is None else hashes.get(role["name"])
    logins = sum(role["login"] for role in roles)
    return {"data": {"roles": roles}, "message": f"{len(roles)} roles, {logins} can log in"}
