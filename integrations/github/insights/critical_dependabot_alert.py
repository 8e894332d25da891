from integrations_pipeline.sdk import TaskContext, task


@task(
    name="critical_dependabot_alert",
    title="Open critical Dependabot alert",
    description=(
        "A dependency has a known critical vulnerability. Remediation: upgrade it to the first "
        "patched version (merge Dependabot's pull request), or dismiss the alert with a reason."
    ),
    type="insight",
    severity="high",
)
def critical_dependabot_alert(self, ctx: TaskContext):
    listed = ctx.get_data("list_dependabot_alerts")["alerts"]
    # The collector asks GitHub for open critical alerts only; judged again here, not taken on trust.
    alerts = [alert for alert in listed if alert["state"] == "open" and alert["severity"] == "critical"]
    repositories = sorted({alert["repository"] for alert in alerts})
    return {
        "data": {"open_critical_alerts": len(alerts), "repositories": repositories},
        "message": f"{len(alerts)} open critical Dependabot alerts in {len(repositories)} repositories",
        "violations": [
            {
                "resource": alert["html_url"],
                "message": (
                    f"{alert['repository']}: {alert['package']} ({alert['ecosystem']}) in "
                    f"{alert['manifest_path']}: {alert['ghsa_id']} {alert['summary']}"
                ),
                "data": alert,
            }
            for alert in alerts
        ],
    }
