from integrations_pipeline.sdk import TaskContext, task

from ..aws_api import Aws, aws_errors


@task(
    name="get_account_summary",
    title="Get the IAM account summary",
    description="Who the run is, and the account's IAM summary: whether the root user has access keys or MFA",
    type="collector",
)
def get_account_summary(self, ctx: TaskContext):
    aws: Aws = ctx.base("aws")
    with aws_errors("iam GetAccountSummary"):
        summary = aws.client("iam").get_account_summary()["SummaryMap"]
    root_keys = bool(summary.get("AccountAccessKeysPresent"))
    return {
        "data": {
            "account_id": aws.account_id,
            "caller_arn": aws.caller_arn,
            "root_arn": aws.arn("iam", "root"),
            "root_access_keys_present": root_keys,
            "root_mfa_enabled": bool(summary.get("AccountMFAEnabled")),
            "summary": summary,
        },
        "message": f"Account {aws.account_id}: root access keys {'present' if root_keys else 'absent'}",
    }
