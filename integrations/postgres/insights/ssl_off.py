from integrations_pipeline.sdk import TaskContext, task


@task(
    name="ssl_off",
    title="SSL is off",
    description="Without SSL, passwords (with md5 or password authentication) and all data "
    "cross the network in clear text",
    type="insight",
    severity="medium",
)
def ssl_off(self, ctx: TaskContext):
    setting = ctx.get_data("list_settings")["settings"].get("ssl")
    if setting is None:
        raise LookupError("the setting ssl was not collected")
    off = setting["value"] != "on"
    return {
        "data": {"ssl": setting},
        "message": f"ssl is {setting['value']}",
        "violations": [
            {
                "resource": ctx.base("server").resource("setting", "ssl"),
                "message": "the server does not accept SSL connections (ssl = off)",
                "data": setting,
            }
        ]
        if off
        else [],
    }
