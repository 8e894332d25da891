from integrations_pipeline.sdk import TaskContext, task

SCRAM = "scram-sha-256"


@task(
    name="password_encryption_not_scram",
    title="Passwords not hashed with SCRAM",
    description="password_encryption decides how new passwords are stored; md5 hashes can be "
    "replayed and cracked, scram-sha-256 cannot",
    type="insight",
    severity="medium",
)
def password_encryption_not_scram(self, ctx: TaskContext):
    data = ctx.get_data("list_settings")
    setting = data["settings"].get("password_encryption")
    if setting is None:
        raise LookupError("the setting password_encryption was not collected")
    server = ctx.base("server")
    if setting["server_value"] is None:
        raise LookupError(
            "the server's own password_encryption is unknown: it is overridden for the "
            f"connecting role ({setting['source']}) and pg_file_settings could not be read"
        )
    violations = []
    if setting["server_value"] != SCRAM:
        violations.append(
            {
                "resource": server.resource("setting", "password_encryption"),
                "message": f"password_encryption is '{setting['server_value']}' on the server",
                "data": setting,
            }
        )
    overrides = [o for o in data["overrides"] if o["name"] == "password_encryption"]
    for override in overrides:
        if override["value"] != SCRAM:
            violations.append(
                {
                    "resource": server.resource(*_scope(override), "setting", "password_encryption"),
                    "message": f"password_encryption is '{override['value']}' for {_where(override)}",
                    "data": override,
                }
            )
    return {
        "data": {"server": setting, "overrides": overrides},
        "message": f"password_encryption is '{setting['server_value']}' on the server; "
        f"{len(violations)} place(s) not {SCRAM}",
        "violations": violations,
    }


def _scope(override: dict) -> list[str]:
    """Resource path of an ALTER ROLE/DATABASE ... SET: role, database, both, or all roles."""
    if not override["role"] and not override["database"]:
        return ["all-roles"]
    return [part for key in ("role", "database") if override[key] for part in (key, override[key])]


def _where(override: dict) -> str:
    if not override["role"] and not override["database"]:
        return "all roles (ALTER ROLE ALL)"
    return " in ".join(f"{key} '{override[key]}'" for key in ("role", "database") if override[key])
