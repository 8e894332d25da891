"""Each github insight on its fail, pass and empty cases, against a local GitHub API."""

from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration
from integrations_tests.github.fake_github import GitHub, config

BRANCHES = ["list_repositories", "list_branch_protections", "unprotected_default_branch"]
MEMBERS = ["list_members", "member_without_2fa"]
ALERTS = ["list_dependabot_alerts", "critical_dependabot_alert"]


def open_findings(task: str) -> list[tuple[str, str]]:
    return sorted(
        (f["resource"], f["severity"])
        for f in get_store().list_findings(status="open", integration="github")
        if f["task"] == task
    )


# --- unprotected_default_branch --------------------------------------------------------------


def test_unprotected_default_branch_flags_each_unprotected_branch(github: GitHub):
    github.add_repo("api")
    github.add_repo("web", protection="none")
    github.add_repo("docs", protection="none", branch="release/2.x")
    github.add_repo("infra", protection="ruleset")
    github.add_repo("legacy", protection="none", archived=True)  # archived: not inspected by default

    result = run_integration("github", config(github), tasks=BRANCHES)

    insight = result["unprotected_default_branch"]
    assert insight.status == "succeeded"
    assert insight.message == "2 of 4 default branches are not protected"
    assert [(v["resource"], v["message"]) for v in insight.violations] == [
        (
            "github:repo:acme/web:main",
            "acme/web: default branch 'main' has no branch protection and no ruleset",
        ),
        (
            "github:repo:acme/docs:release/2.x",
            "acme/docs: default branch 'release/2.x' has no branch protection and no ruleset",
        ),
    ]
    assert open_findings("unprotected_default_branch") == [
        ("github:repo:acme/docs:release/2.x", "high"),
        ("github:repo:acme/web:main", "high"),
    ]
    infra = next(
        b for b in result["list_branch_protections"].data["branches"] if b["repository"] == "acme/infra"
    )
    assert (infra["protected"], infra["source"], infra["rules"]) == (
        True,
        "rulesets",
        ["non_fast_forward", "pull_request"],
    )


def test_unprotected_default_branch_passes_when_every_branch_is_protected(github: GitHub):
    github.add_repo("api")
    github.add_repo("infra", protection="ruleset")

    result = run_integration("github", config(github), tasks=BRANCHES)

    insight = result["unprotected_default_branch"]
    assert insight.status == "succeeded"
    assert not insight.violation and insight.violations == []
    assert insight.message == "0 of 2 default branches are not protected"
    assert open_findings("unprotected_default_branch") == []


def test_unprotected_default_branch_passes_on_an_organization_without_repositories(github: GitHub):
    result = run_integration("github", config(github), tasks=BRANCHES)

    assert result["list_repositories"].data["repositories"] == []
    insight = result["unprotected_default_branch"]
    assert insight.status == "succeeded" and insight.violations == []
    assert insight.data == {"inspected": 0, "unprotected": [], "unknown": []}


def test_unprotected_default_branch_counts_unknown_branches(github: GitHub):
    github.add_repo("api")
    github.add_repo("web", protection="none")
    github.add_repo("locked", protection="no_admin")

    result = run_integration("github", config(github), tasks=BRANCHES)

    insight = result["unprotected_default_branch"]
    assert insight.status == "succeeded"
    assert insight.message == "1 of 3 default branches are not protected, 1 unknown"
    assert insight.data == {"inspected": 3, "unprotected": ["acme/web:main"], "unknown": ["acme/locked"]}
    assert open_findings("unprotected_default_branch") == [("github:repo:acme/web:main", "high")]


def test_unprotected_default_branch_fails_when_no_branch_could_be_read(github: GitHub):
    github.add_repo("api", protection="no_admin")
    github.add_repo("web", protection="forbidden")

    result = run_integration("github", config(github), tasks=BRANCHES)

    assert result["list_branch_protections"].status == "succeeded"
    insight = result["unprotected_default_branch"]
    assert insight.status == "failed" and not insight.violations  # unknown is not a pass
    assert "acme: the protection of all 2 inspected default branches is unknown" in insight.error


# --- member_without_2fa ----------------------------------------------------------------------


def test_member_without_2fa_flags_each_member_as_critical(github: GitHub):
    github.members = ["alice", "bob", "carol", "dave"]
    github.without_2fa = ["bob", "dave"]

    result = run_integration("github", config(github), tasks=MEMBERS)

    insight = result["member_without_2fa"]
    assert insight.message == "2 of 4 members have no two-factor authentication"
    assert [(v["resource"], v["message"]) for v in insight.violations] == [
        ("github:member:acme/bob", "bob, a member of acme, has no two-factor authentication"),
        ("github:member:acme/dave", "dave, a member of acme, has no two-factor authentication"),
    ]
    assert open_findings("member_without_2fa") == [
        ("github:member:acme/bob", "critical"),
        ("github:member:acme/dave", "critical"),
    ]


def test_member_without_2fa_passes_when_every_member_has_2fa(github: GitHub):
    github.members = ["alice", "bob"]

    result = run_integration("github", config(github), tasks=MEMBERS)

    insight = result["member_without_2fa"]
    assert insight.status == "succeeded" and insight.violations == []
    assert insight.message == "0 of 2 members have no two-factor authentication"


def test_member_without_2fa_passes_on_an_organization_without_members(github: GitHub):
    result = run_integration("github", config(github), tasks=MEMBERS)

    insight = result["member_without_2fa"]
    assert insight.status == "succeeded" and insight.violations == []
    assert insight.data == {"members": 0, "without_2fa": []}


# --- critical_dependabot_alert ----------------------------------------------------------------


def test_critical_dependabot_alert_flags_each_open_critical_alert(github: GitHub):
    first = github.add_alert("api")
    github.add_alert("api", severity="high")
    github.add_alert("web", state="fixed")
    third = github.add_alert("web")

    result = run_integration("github", config(github), tasks=ALERTS)

    insight = result["critical_dependabot_alert"]
    assert insight.message == "2 open critical Dependabot alerts in 2 repositories"
    assert [v["resource"] for v in insight.violations] == [first["html_url"], third["html_url"]]
    assert insight.violations[0]["message"] == (
        "acme/api: lib1 (npm) in package-lock.json: GHSA-0001-abcd-efgh Remote code execution in lib1"
    )
    assert open_findings("critical_dependabot_alert") == [
        (first["html_url"], "high"),
        (third["html_url"], "high"),
    ]


def test_critical_dependabot_alert_passes_without_open_critical_alerts(github: GitHub):
    github.add_alert("api", severity="high")
    github.add_alert("api", state="dismissed")

    result = run_integration("github", config(github), tasks=ALERTS)

    insight = result["critical_dependabot_alert"]
    assert insight.status == "succeeded" and insight.violations == []
    assert insight.message == "0 open critical Dependabot alerts in 0 repositories"


def test_critical_dependabot_alert_judges_alerts_an_unfiltered_answer_brings(github: GitHub):
    github.alerts_ignore_filter = True
    github.add_alert("api", state="fixed")
    github.add_alert("api", state="dismissed")
    github.add_alert("web", severity="high")
    critical = github.add_alert("web")

    result = run_integration("github", config(github), tasks=ALERTS)

    assert len(result["list_dependabot_alerts"].data["alerts"]) == 4  # all of them came back
    insight = result["critical_dependabot_alert"]
    assert insight.message == "1 open critical Dependabot alerts in 1 repositories"
    assert [v["resource"] for v in insight.violations] == [critical["html_url"]]
    assert open_findings("critical_dependabot_alert") == [(critical["html_url"], "high")]


def test_critical_dependabot_alert_passes_on_an_organization_without_alerts(github: GitHub):
    result = run_integration("github", config(github), tasks=ALERTS)

    insight = result["critical_dependabot_alert"]
    assert insight.status == "succeeded" and insight.violations == []
    assert insight.data == {"open_critical_alerts": 0, "repositories": []}
