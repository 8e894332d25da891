from typing import Any

from integrations_pipeline.sdk import HttpError, TaskContext, task

from ..github_api import explain, get_all, task_client


@task(
    name="list_dependabot_alerts",
    title="List open critical Dependabot alerts",
    description="Open Dependabot alerts of critical severity, across the organization's repositories.",
    type="collector",
)
def list_dependabot_alerts(self, ctx: TaskContext):
    organization = ctx.base("organization")
    try:
        with task_client(ctx) as api:
            alerts = get_all(
                api, f"/orgs/{organization}/dependabot/alerts", {"state": "open", "severity": "critical"}
            )
    except HttpError as error:
        raise explain(
            error,
            f"listing the Dependabot alerts of '{organization}'",
            "the token needs Dependabot alerts read (classic token: the security_events scope) "
            "and must belong to an owner or security manager",
        ) from error
    found = [alert_summary(alert) for alert in alerts]
    return {
        "data": {"organization": organization, "alerts": found},
        "message": f"{len(found)} Dependabot alerts in {organization} (asked for open, critical)",
    }


def alert_summary(alert: dict[str, Any]) -> dict[str, Any]:
    """The fields of an alert a reader needs to find and fix it."""
    advisory = alert.get("security_advisory") or {}
    vulnerability = alert.get("security_vulnerability") or {}
    package = vulnerability.get("package") or {}
    return {
        "number": alert["number"],
        "html_url": alert["html_url"],
        "repository": (alert.get("repository") or {}).get("full_name"),
        "state": alert.get("state"),
        "severity": vulnerability.get("severity") or advisory.get("severity"),
        "ghsa_id": advisory.get("ghsa_id"),
        "summary": advisory.get("summary"),
        "ecosystem": package.get("ecosystem"),
        "package": package.get("name"),
        "manifest_path": (alert.get("dependency") or {}).get("manifest_path"),
        "first_patched_version": (vulnerability.get("first_patched_version") or {}).get("identifier"),
    }
