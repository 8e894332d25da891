"""Each postgres insight's pass, fail and empty case, against real servers.

Roles and databases are created on the machine's server; settings are changed on the
hardened throwaway cluster. Other roles and databases may exist on the machine's server, so
the assertions there are about the resources the test made.
"""

from typing import Any

import pytest

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import IntegrationRunResult, run_integration

from .conftest import Scratch

INSIGHTS = [
    "extra_superusers",
    "login_roles_without_password",
    "password_encryption_not_scram",
    "ssl_off",
    "public_schema_create",
]


def run(config: dict[str, Any]) -> IntegrationRunResult:
    result = run_integration("postgres", config)
    assert result.success, result.errors
    return result


def resources(result: IntegrationRunResult, insight: str) -> set[str]:
    return {v["resource"] for v in result[insight].violations}


def address(config: dict[str, Any]) -> str:
    return f"postgresql://{config['host']}:{config['port']}"


def test_the_hardened_server_passes_every_insight(hardened: dict):
    result = run(hardened)
    for insight in INSIGHTS:
        outcome = result[insight]
        assert (outcome.status, outcome.violations) == ("succeeded", []), (insight, outcome)
    assert get_store().list_findings(status="open", integration="postgres") == []


# extra_superusers


def test_extra_superusers_flags_a_superuser_besides_the_bootstrap_role(local: dict, scratch: Scratch):
    admin = scratch.role("SUPERUSER")
    result = run(local)
    assert f"{address(local)}/role/{admin}" in resources(result, "extra_superusers")
    [finding] = [
        f
        for f in get_store().list_findings(integration="postgres")
        if f["resource"].endswith(f"/role/{admin}")
    ]
    assert (finding["task"], finding["severity"], finding["status"]) == ("extra_superusers", "high", "open")


def test_extra_superusers_passes_a_superuser_that_is_allowed(local: dict, scratch: Scratch):
    admin = scratch.role("SUPERUSER")
    result = run({**local, "allowed_superusers": [admin]})
    assert f"{address(local)}/role/{admin}" not in resources(result, "extra_superusers")
    assert admin in result["extra_superusers"].data["superusers"]


def test_extra_superusers_empty_when_only_the_bootstrap_role_is_superuser(hardened: dict):
    outcome = run(hardened)["extra_superusers"]
    assert (outcome.data["superusers"], outcome.violations) == (["postgres"], [])


# login_roles_without_password


def test_login_roles_without_password_flags_such_a_role(local: dict, scratch: Scratch):
    bare = scratch.role("LOGIN")
    result = run(local)
    [violation] = [v for v in result["login_roles_without_password"].violations if v["data"]["name"] == bare]
    assert violation["resource"] == f"{address(local)}/role/{bare}"
    assert violation["message"] == f"role '{bare}' can log in and has no password"


def test_login_roles_without_password_passes_roles_with_one_and_roles_that_cannot_log_in(
    local: dict, scratch: Scratch
):
    with_password, no_login = scratch.role("LOGIN PASSWORD 'a-password'"), scratch.role("NOLOGIN")
    flagged = resources(run(local), "login_roles_without_password")
    assert not {f"{address(local)}/role/{with_password}", f"{address(local)}/role/{no_login}"} & flagged


def test_login_roles_without_password_is_an_error_when_passwords_cannot_be_read(
    local: dict, scratch: Scratch
):
    reader = scratch.role("LOGIN")
    result = run_integration("postgres", {**local, "user": reader})
    outcome = result["login_roles_without_password"]
    assert outcome.status == "failed"
    assert "whether login roles have a password is unknown" in outcome.error
    [evaluation] = [
        e
        for e in get_store().evaluations(integration="postgres")
        if e["task"] == "login_roles_without_password"
    ]
    assert evaluation["status"] == "error"


def test_login_roles_without_password_empty_when_every_login_role_has_one(hardened: dict):
    outcome = run(hardened)["login_roles_without_password"]
    assert outcome.data == {"login_roles": 1, "without_password": []}
    assert outcome.violations == []


# password_encryption_not_scram


def test_password_encryption_flags_md5_on_the_server(hardened: dict):
    Scratch(hardened).sql("ALTER SYSTEM SET password_encryption = md5")
    Scratch(hardened).sql("SELECT pg_reload_conf()")
    outcome = run(hardened)["password_encryption_not_scram"]
    [violation] = outcome.violations
    assert violation["resource"] == f"{address(hardened)}/setting/password_encryption"
    assert violation["message"] == "password_encryption is 'md5' on the server"
    assert violation["data"]["source"] == "configuration file"


def test_password_encryption_flags_md5_set_by_a_role_or_a_database(local: dict, scratch: Scratch):
    role, database = scratch.role(), scratch.database()
    scratch.sql(f'ALTER ROLE "{role}" IN DATABASE "{database}" SET password_encryption = md5')
    scratch.sql(f'ALTER DATABASE "{database}" SET password_encryption = md5')
    scratch.sql(f'ALTER ROLE "{role}" SET password_encryption = "scram-sha-256"')
    flagged = resources(run(local), "password_encryption_not_scram")
    base = address(local)
    assert f"{base}/role/{role}/database/{database}/setting/password_encryption" in flagged
    assert f"{base}/database/{database}/setting/password_encryption" in flagged
    assert f"{base}/role/{role}/setting/password_encryption" not in flagged


def test_password_encryption_judges_the_server_value_even_when_the_checker_overrides_it(hardened: dict):
    admin = Scratch(hardened)
    admin.sql("ALTER SYSTEM SET password_encryption = md5")
    admin.sql("SELECT pg_reload_conf()")
    admin.sql("ALTER ROLE postgres SET password_encryption = 'scram-sha-256'")
    try:
        outcome = run(hardened)["password_encryption_not_scram"]
    finally:
        admin.sql("ALTER ROLE postgres RESET password_encryption")
    assert outcome.data["server"]["source"] == "user"  # what the checker's own session sees
    assert [v["resource"] for v in outcome.violations] == [f"{address(hardened)}/setting/password_encryption"]
    assert outcome.violations[0]["message"] == "password_encryption is 'md5' on the server"


def test_password_encryption_flags_md5_for_all_roles(hardened: dict):
    admin = Scratch(hardened)
    admin.sql("ALTER ROLE ALL SET password_encryption = md5")
    try:
        outcome = run(hardened)["password_encryption_not_scram"]
    finally:
        admin.sql("ALTER ROLE ALL RESET password_encryption")
    [violation] = outcome.violations
    assert violation["resource"] == f"{address(hardened)}/all-roles/setting/password_encryption"
    assert violation["message"] == "password_encryption is 'md5' for all roles (ALTER ROLE ALL)"


def test_password_encryption_is_an_error_when_the_server_value_cannot_be_seen(local: dict, scratch: Scratch):
    checker = scratch.role("LOGIN")
    scratch.sql(f'ALTER ROLE "{checker}" SET password_encryption = "scram-sha-256"')
    result = run_integration("postgres", {**local, "user": checker})
    outcome = result["password_encryption_not_scram"]
    assert outcome.status == "failed"
    assert "the server's own password_encryption is unknown" in outcome.error
    assert any("pg_file_settings needs superuser" in e for e in result["list_settings"].errors)


def test_password_encryption_empty_without_overrides(hardened: dict):
    outcome = run(hardened)["password_encryption_not_scram"]
    assert (outcome.data["overrides"], outcome.violations) == ([], [])
    assert outcome.data["server"]["server_value"] == "scram-sha-256"


# ssl_off


def test_ssl_off_flags_a_server_without_ssl(hardened: dict):
    Scratch(hardened).sql("ALTER SYSTEM SET ssl = off")
    Scratch(hardened).sql("SELECT pg_reload_conf()")
    try:
        outcome = run({**hardened, "sslmode": "prefer"})["ssl_off"]
    finally:
        Scratch(hardened).sql("ALTER SYSTEM RESET ssl")
        Scratch(hardened).sql("SELECT pg_reload_conf()")
    [violation] = outcome.violations
    assert violation["resource"] == f"{address(hardened)}/setting/ssl"
    assert outcome.message == "ssl is off"


def test_ssl_off_passes_when_ssl_is_on(hardened: dict):
    outcome = run(hardened)["ssl_off"]
    assert (outcome.message, outcome.violations) == ("ssl is on", [])


def test_ssl_off_is_skipped_when_settings_were_not_collected(hardened: dict):
    # Without list_settings the insight has nothing to judge: it is skipped, never passed.
    result = run_integration("postgres", hardened, tasks=["ssl_off", "list_roles"])
    assert result["ssl_off"].status == "skipped"
    assert result["list_settings"].status == "skipped"


# public_schema_create


def test_public_schema_create_flags_a_database_where_public_can_create(local: dict, scratch: Scratch):
    database = scratch.database()
    scratch.sql("GRANT CREATE ON SCHEMA public TO PUBLIC", database)
    result = run(local)
    [violation] = [v for v in result["public_schema_create"].violations if v["data"]["database"] == database]
    assert violation["resource"] == f"{address(local)}/database/{database}/schema/public"
    assert violation["data"]["public_create"] is True


def test_public_schema_create_passes_the_default_privileges(local: dict, scratch: Scratch):
    database = scratch.database()
    result = run(local)
    assert database in result["public_schema_create"].data["inspected"]
    assert database not in result["public_schema_create"].data["public_create"]


@pytest.mark.parametrize("how", ["dropped", "revoked"])
def test_public_schema_create_empty_without_a_public_schema_or_grants(
    local: dict, scratch: Scratch, how: str
):
    database = scratch.database()
    if how == "dropped":
        scratch.sql("DROP SCHEMA public", database)
    else:
        scratch.sql("REVOKE ALL ON SCHEMA public FROM PUBLIC", database)
    result = run(local)
    assert (database in result["public_schema_create"].data["inspected"]) is (how == "revoked")
    assert database not in result["public_schema_create"].data["public_create"]
