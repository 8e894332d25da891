from integrations_pipeline.sdk import TaskContext, task

from ..server import SERVER_SOURCES

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
    violations = []
    if setting["source"] in SERVER_SOURCES and setting["value"] != SCRAM:
        violations.append(
            {
                "resource": server.resource("setting", "password_encryption"),
                "message": f"password_encryption is '{setting['value']}' on the server",
                "data": setting,
            }
        )
    overrides = [o for o in data["overrides"] if o["name"] == "password_encryption"]
    for override in overrides:
        if override["value"] != SCRAM:
            scope = [part for key in ("role", "database") if override[key] for part in (key, override[key])]
            where = " in ".join(f"{key} '{override[key]}'" for key in ("role", "database") if override[key])
            violations.append(
                {
                    "resource": server.resource(*scope, "setting", "password_encryption"),
                    "message": f"password_encryption is '{override['value']}' for {where}",
                    "data": override,
                }
            )
    return {
        "data": {"server": setting, "overrides": overrides},
        "message": f"password_encryption is '{setting['value']}'; {len(violations)} place(s) not {SCRAM}",
        "violations": violations,
    }
