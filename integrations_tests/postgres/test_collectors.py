"""The postgres collectors against real servers: what they collect and what they cannot see."""

from datetime import UTC, datetime, timedelta
from typing import Any

from integrations_pipeline.testing import run_integration

from .conftest import Scratch

COLLECTORS = ["list_roles", "list_settings", "list_databases", "list_extensions"]


def collect(config: dict[str, Any]) -> Any:
    result = run_integration("postgres", config, tasks=COLLECTORS)
    assert result.success, result.errors
    return result


def by_name(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [row] = [row for row in rows if row["name"] == name]
    return row


def test_roles_with_attributes_memberships_expiry_and_password_hash(local: dict, scratch: Scratch):
    group = scratch.role()
    until = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)
    member = scratch.role(
        f"LOGIN CREATEDB PASSWORD 'x-{group}' VALID UNTIL '{until.isoformat()}' IN ROLE {group}"
    )
    result = collect(local)
    roles = result["list_roles"].data["roles"]
    role = by_name(roles, member)
    assert role["login"] and role["create_db"] and not role["superuser"]
    assert role["member_of"] == [group]
    assert (role["valid_until"], role["expired"]) == (until.strftime("%Y-%m-%dT%H:%M:%SZ"), False)
    assert (role["password_set"], role["password_hash"]) == (True, "scram-sha-256")
    assert (by_name(roles, group)["login"], by_name(roles, group)["password_set"]) == (False, False)
    [(bootstrap,)] = scratch.sql("SELECT rolname FROM pg_roles WHERE oid = 10")
    assert [r["name"] for r in roles if r["bootstrap"]] == [bootstrap]
    assert not any(r["name"].startswith("pg_") for r in roles)
    assert result["list_roles"].errors == []


def test_an_unprivileged_role_sees_roles_but_not_their_passwords(local: dict, scratch: Scratch):
    reader = scratch.role("LOGIN")
    result = collect({**local, "user": reader})
    roles = result["list_roles"].data["roles"]
    assert by_name(roles, reader)["password_set"] is None
    assert result["list_roles"].errors == [
        f"cannot read pg_authid as '{reader}' (needs superuser): whether roles have a password is unknown"
    ]


def test_settings_with_their_source_and_role_and_database_overrides(local: dict, scratch: Scratch):
    role, database = scratch.role(), scratch.database()
    scratch.sql(f'ALTER ROLE "{role}" SET password_encryption = "scram-sha-256"')
    scratch.sql(f'ALTER DATABASE "{database}" SET password_encryption = md5')
    data = collect(local)["list_settings"].data
    assert set(data["settings"]) == {
        "ssl", "ssl_min_protocol_version", "password_encryption", "log_connections", "log_disconnections"
    }  # fmt: skip
    assert data["settings"]["ssl"]["source"]
    assert all(setting["server_value"] == setting["value"] for setting in data["settings"].values())
    assert data["server_version"].split(".")[0].isdigit()
    assert {"database": "", "role": role, "name": "password_encryption", "value": "scram-sha-256"} in data[
        "overrides"
    ]
    assert {"database": database, "role": "", "name": "password_encryption", "value": "md5"} in data[
        "overrides"
    ]


def test_databases_with_owner_and_public_schema_privileges(local: dict, scratch: Scratch):
    owner = scratch.role()
    open_db, default_db, locked_db = scratch.database(), scratch.database(), scratch.database()
    scratch.sql(f'ALTER DATABASE "{default_db}" OWNER TO "{owner}"')
    scratch.sql("GRANT CREATE ON SCHEMA public TO PUBLIC", open_db)
    scratch.sql(f'REVOKE CONNECT ON DATABASE "{locked_db}" FROM PUBLIC')
    reader = scratch.role("LOGIN")
    databases = collect({**local, "user": reader})["list_databases"].data["databases"]
    assert by_name(databases, default_db)["owner"] == owner
    assert by_name(databases, open_db)["public_schema"]["public_create"] is True
    assert by_name(databases, default_db)["public_schema"]["public_create"] is False
    assert by_name(databases, default_db)["public_schema"]["public_usage"] is True
    locked = by_name(databases, locked_db)
    assert (locked["inspected"], locked["public_schema"]) == (False, None)
    assert by_name(databases, "template0")["inspected"] is False


def test_extensions_per_database(local: dict, scratch: Scratch):
    database = scratch.database()
    scratch.sql("CREATE EXTENSION citext", database)
    extensions = collect(local)["list_extensions"].data["databases"][database]
    assert {e["name"] for e in extensions} == {"plpgsql", "citext"}
    assert by_name(extensions, "citext")["schema"] == "public"


def test_a_database_that_refuses_connections_is_skipped_with_an_error(local: dict, scratch: Scratch):
    database = scratch.database()
    scratch.sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true CONNECTION LIMIT 0')
    reader = scratch.role("LOGIN")
    result = collect({**local, "user": reader})
    [error] = [e for e in result["list_extensions"].errors if database in e]
    assert error.startswith(f"database '{database}' skipped: ")
    assert "too many connections" in error
    assert database not in result["list_extensions"].data["databases"]


def test_wrong_password_fails_the_run_with_the_server_and_user_named(hardened: dict):
    result = run_integration("postgres", {**hardened, "password": "not-the-password"})
    assert not result.success
    assert any(
        f"cannot connect to database 'postgres' at 127.0.0.1:{hardened['port']} as 'postgres'" in e
        and "password authentication failed" in e
        for e in result.errors
    ), result.errors
    assert all(outcome.status == "skipped" for outcome in result.tasks.values())


def test_an_unreachable_server_is_named(local: dict):
    result = run_integration("postgres", {**local, "port": 1, "connect_timeout": 2})
    assert not result.success
    assert any("at 127.0.0.1:1 as" in e and "Connection refused" in e for e in result.errors), result.errors
