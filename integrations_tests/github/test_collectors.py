"""github's collectors against a local GitHub API: pagination, retries, concurrency and errors."""

from integrations_pipeline.testing import run_integration
from integrations_tests.github.fake_github import ORG, ORG_ID, TOKEN, GitHub, config

COLLECTORS = [
    "list_repositories",
    "list_branch_protections",
    "list_members",
    "list_outside_collaborators",
    "list_dependabot_alerts",
]


def test_collects_every_page_through_a_429_and_a_502(github: GitHub):
    for i in range(150):
        github.add_repo(f"repo-{i:03d}", archived=i >= 148)
    github.members = [f"user-{i:03d}" for i in range(120)]
    github.without_2fa = ["user-007"]
    github.outside_collaborators = ["contractor-1", "contractor-2"]
    for i in range(130):
        github.add_alert(f"repo-{i % 5:03d}")
    github.add_alert("repo-001", severity="high")
    github.add_alert("repo-002", state="dismissed")
    # Page 2 of the repositories (GitHub links to /organizations/<id>/repos) is rate limited once,
    # and one branch protection read meets a transient 502.
    github.fail_once(f"/organizations/{ORG_ID}/repos", 429, {"Retry-After": "1"})
    github.fail_once(f"/repos/{ORG}/repo-042/branches/main/protection", 502)

    result = run_integration("github", config(github), tasks=COLLECTORS)

    assert result.success, result.errors
    repos = result["list_repositories"].data["repositories"]
    assert [r["name"] for r in repos] == [f"repo-{i:03d}" for i in range(150)]
    assert repos[0] == {
        "name": "repo-000",
        "full_name": "acme/repo-000",
        "html_url": "https://github.com/acme/repo-000",
        "private": False,
        "visibility": "public",
        "archived": False,
        "default_branch": "main",
    }
    assert [(r.query, r.status) for r in github.served(f"/orgs/{ORG}/repos")] == [
        ({"per_page": "100", "type": "all"}, 200)
    ]
    assert [(r.query["page"], r.status) for r in github.served(f"/organizations/{ORG_ID}/repos")] == [
        ("2", 429),
        ("2", 200),
    ]
    assert [r.status for r in github.served(f"/repos/{ORG}/repo-042/branches/main/protection")] == [502, 200]

    branches = result["list_branch_protections"].data["branches"]
    assert len(branches) == 148 and all(b["protected"] for b in branches)  # the 2 archived ones skipped
    assert branches[42] == {
        "repository": "acme/repo-042",
        "html_url": "https://github.com/acme/repo-042",
        "branch": "main",
        "protected": True,
        "source": "branch_protection",
        "required_approving_reviews": 2,
        "enforce_admins": True,
        "allow_force_pushes": False,
    }
    assert not github.served(f"/repos/{ORG}/repo-149/branches/main/protection")

    members = result["list_members"].data
    assert len(members["members"]) == 120 and members["without_2fa"] == ["user-007"]
    assert [r.query for r in github.served(f"/organizations/{ORG_ID}/members")] == [
        {"per_page": "100", "page": "2"}
    ]
    assert result["list_outside_collaborators"].data["outside_collaborators"] == [
        {"login": "contractor-1", "html_url": "https://github.com/contractor-1"},
        {"login": "contractor-2", "html_url": "https://github.com/contractor-2"},
    ]

    alerts = result["list_dependabot_alerts"].data["alerts"]
    assert [a["number"] for a in alerts] == list(range(1, 131))  # not the high or the dismissed one
    assert alerts[0] == {
        "number": 1,
        "html_url": "https://github.com/acme/repo-000/security/dependabot/1",
        "repository": "acme/repo-000",
        "state": "open",
        "severity": "critical",
        "ghsa_id": "GHSA-0001-abcd-efgh",
        "summary": "Remote code execution in lib1",
        "ecosystem": "npm",
        "package": "lib1",
        "manifest_path": "package-lock.json",
        "first_patched_version": "2.0.0",
    }
    [first] = github.served(f"/orgs/{ORG}/dependabot/alerts")
    assert first.query == {"state": "open", "severity": "critical", "per_page": "100"}
    [second] = github.served(f"/organizations/{ORG_ID}/dependabot/alerts")
    assert "after" in second.query  # GitHub's cursor, from the Link header

    for request in github.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}", request.path
        assert request.headers["Accept"] == "application/vnd.github+json", request.path
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28", request.path


def test_branch_protections_are_read_concurrently_within_max_concurrency(github: GitHub):
    for i in range(30):
        github.add_repo(f"repo-{i:02d}")
    github.protection_delay = 0.05

    result = run_integration(
        "github", config(github, max_concurrency=3), tasks=["list_repositories", "list_branch_protections"]
    )

    assert result.success, result.errors
    assert len(result["list_branch_protections"].data["branches"]) == 30
    assert github.max_in_flight == 3


def test_archived_repositories_are_inspected_with_include_archived(github: GitHub):
    github.add_repo("active")
    github.add_repo("retired", archived=True, protection="none")
    tasks = ["list_repositories", "list_branch_protections"]

    result = run_integration("github", config(github, include_archived=True), tasks=tasks)

    branches = result["list_branch_protections"].data["branches"]
    assert [(b["repository"], b["protected"]) for b in branches] == [
        ("acme/active", True),
        ("acme/retired", False),
    ]


def test_a_repository_without_permission_is_an_error_not_a_finding(github: GitHub):
    github.add_repo("open")
    github.add_repo("locked", protection="forbidden")

    result = run_integration("github", config(github))

    protections = result["list_branch_protections"]
    assert protections.status == "succeeded"
    assert protections.data["unreadable"] == ["acme/locked"]
    assert [b["repository"] for b in protections.data["branches"]] == ["acme/open"]
    assert protections.errors == [
        "acme/locked: cannot read the protection of branch 'main' (403); "
        "the token needs the repository Administration read permission"
    ]
    assert result["unprotected_default_branch"].violations == []


def test_members_without_2fa_need_an_owner_token(github: GitHub):
    github.members = ["alice", "bob"]
    github.two_factor_filter_status = 422  # GitHub: "Only owners can use this filter."

    result = run_integration("github", config(github), tasks=["list_members", "member_without_2fa"])

    members = result["list_members"]
    assert members.status == "succeeded"
    assert members.data["without_2fa"] is None
    assert [m["login"] for m in members.data["members"]] == ["alice", "bob"]
    [error] = members.errors
    assert error.startswith("acme: cannot list members without two-factor authentication (HTTP 422)")
    assert "owner" in error
    # Unknown is not a pass.
    insight = result["member_without_2fa"]
    assert insight.status == "failed" and not insight.violations
    assert "two-factor status is unknown" in insight.error


def test_dependabot_alerts_without_permission_fail_the_collector_clearly(github: GitHub):
    github.alerts_status = 403

    result = run_integration(
        "github", config(github), tasks=["list_dependabot_alerts", "critical_dependabot_alert"]
    )

    assert not result.success
    assert result["list_dependabot_alerts"].status == "failed"
    assert "listing the Dependabot alerts of 'acme': HTTP 403" in result["list_dependabot_alerts"].error
    assert "security_events" in result["list_dependabot_alerts"].error
    assert result["critical_dependabot_alert"].status == "skipped"
