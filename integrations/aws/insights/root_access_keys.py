from integrations_pipeline.sdk import TaskContext, task


@task(
    name="root_access_keys",
    title="Root account access keys",
    description="The account's root user has access keys (IAM AccountAccessKeysPresent)",
    type="insight",
    severity="critical",
)
def root_access_keys(self, ctx: TaskContext):
    account = ctx.get_data("get_account_summary")
    present = account["root_access_keys_present"]
    evidence = {
        "account_id": account["account_id"],
        "AccountAccessKeysPresent": account["summary"].get("AccountAccessKeysPresent"),
    }
    return {
        "data": evidence,
        "message": f"The root user of account {account['account_id']} "
        + ("has access keys" if present else "has no access keys"),
        "violations": [
            {
                "resource": account["root_arn"],
                "message": f"The root user of account {account['account_id']} has access keys",
                "data": evidence,
            }
        ]
        if present
        else [],
    }
