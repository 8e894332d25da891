"""github's collectors against a local GitHub API: pagination, retries, concurrency and errors."""

import time

from integrations_pipeline.testing import run_integration
from integrations_tests.github.fake_github import ORG, ORG_ID, TOKEN, UPGRADE, GitHub, config

COLLECTORS = [
    "list_repositories",
    "list_branch_protections",
    "list_members",
    "list_outside_collaborators",
    "list_dependabot_alerts",
]
BRANCHES = ["list_repositories", "list_branch_protections", "unprotected_default_branch"]


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


def test_a_protection_github_does_not_disclose_is_an_error_on_its_repository_not_a_finding(github: GitHub):
    github.add_repo("open")
    github.add_repo("bare", protection="none")
    github.add_repo("app-denied", protection="forbidden")
    github.add_repo("not-admin", protection="no_admin")
    github.add_repo("empty", protection="empty")
    github.add_repo("blocked", protection="blocked")
    github.add_repo("broken", protection="broken")

    result = run_integration("github", config(github), tasks=BRANCHES)

    protections = result["list_branch_protections"]
    assert protections.status == "succeeded"
    assert [(b["repository"], b["protected"]) for b in protections.data["branches"]] == [
        ("acme/open", True),
        ("acme/bare", False),
    ]
    assert protections.data["unreadable"] == [
        "acme/app-denied",
        "acme/blocked",
        "acme/broken",
        "acme/empty",
        "acme/not-admin",
    ]
    admin = "the token's user needs admin rights on the repository (fine-grained token: Administration read)"
    url = "GET /repos/acme/{}/branches/main/protection failed"
    assert sorted(protections.errors) == [
        f"acme/app-denied: cannot read the protection of branch 'main': "
        f"HTTP 403 (Resource not accessible by integration); {admin}",
        f"acme/blocked: cannot read the protection of branch 'main': "
        f"{url.format('blocked')}: HTTP 451 (Repository access blocked)",
        f"acme/broken: cannot read the protection of branch 'main': "
        f"{url.format('broken')}: HTTP 503 (Service Unavailable)",
        "acme/empty: cannot read the protection of branch 'main': "
        "HTTP 404 (Branch not found); the branch does not exist (an empty repository has none)",
        f"acme/not-admin: cannot read the protection of branch 'main': HTTP 404 (Not Found); {admin}",
    ]
    assert len(github.served(f"/repos/{ORG}/broken/branches/main/protection")) == 5  # retried, then given up
    # Only "Branch not protected" leads on to the rulesets.
    assert {r.path for r in github.requests if "/rules/" in r.path} == {
        f"/repos/{ORG}/bare/rules/branches/main"
    }
    insight = result["unprotected_default_branch"]
    assert insight.status == "succeeded"
    assert insight.message == "1 of 7 default branches are not protected, 5 unknown"
    assert insight.data["unknown"] == protections.data["unreadable"]
    assert [v["resource"] for v in insight.violations] == ["github:repo:acme/bare:main"]


def test_a_private_repository_on_the_free_plan_is_unprotected_with_a_note(github: GitHub):
    github.add_repo("private-app", protection="free_private")

    result = run_integration("github", config(github), tasks=BRANCHES)

    protections = result["list_branch_protections"]
    assert protections.errors == [] and protections.data["unreadable"] == []
    note = f"branch protection is not available for this repository on the plan: {UPGRADE}"
    assert protections.data["branches"] == [
        {
            "repository": "acme/private-app",
            "html_url": "https://github.com/acme/private-app",
            "branch": "main",
            "protected": False,
            "source": None,
            "rules": [],
            "note": note,
        }
    ]
    assert [r.status for r in github.served(f"/repos/{ORG}/private-app/rules/branches/main")] == [403]
    [violation] = result["unprotected_default_branch"].violations
    assert violation["message"] == (
        f"acme/private-app: default branch 'main' has no branch protection and no ruleset ({note})"
    )


def test_a_token_revoked_during_the_protection_reads_fails_the_collector(github: GitHub):
    github.add_repo("api")
    github.add_repo("web")
    github.fail_once(f"/repos/{ORG}/web/branches/main/protection", 401, message="Bad credentials")

    result = run_integration("github", config(github), tasks=BRANCHES)

    protections = result["list_branch_protections"]
    assert protections.status == "failed"
    assert (
        "acme/web: reading the protection of branch 'main': GitHub rejected the token (401 Bad credentials)"
        in protections.error
    )
    assert result["unprotected_default_branch"].status == "skipped"


def test_rate_limited_requests_wait_and_complete(github: GitHub):
    github.add_repo("api")
    github.add_repo("web", protection="none")
    github.members = ["alice"]
    # GitHub's primary rate limit (wait until the reset, epoch seconds) and a secondary one.
    github.fail_once(
        f"/repos/{ORG}/api/branches/main/protection",
        403,
        {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": lambda: str(int(time.time()) + 2),
        },
        "API rate limit exceeded for user ID 1.",
    )
    github.fail_once(
        f"/orgs/{ORG}/members",
        403,
        {"Retry-After": "1"},
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    )

    result = run_integration("github", config(github), tasks=[*BRANCHES, "list_members"])

    assert result.success, result.errors
    assert result["list_branch_protections"].errors == [] and result["list_members"].errors == []
    assert [b["repository"] for b in result["list_branch_protections"].data["branches"]] == [
        "acme/api",
        "acme/web",
    ]
    limited, retried = github.served(f"/repos/{ORG}/api/branches/main/protection")
    assert (limited.status, retried.status) == (403, 200)
    assert retried.at - limited.at >= 0.9  # waited for the reset
    limited, retried, filtered = github.served(f"/orgs/{ORG}/members")
    assert (limited.status, retried.status, filtered.query) == (
        403,
        200,
        {"filter": "2fa_disabled", "per_page": "100"},
    )
    assert retried.at - limited.at >= 0.9  # waited Retry-After
    assert result["list_members"].data["without_2fa"] == []


def test_members_without_2fa_need_an_owner_token(github: GitHub):
    github.members = ["alice", "bob"]
    github.two_factor_filter_status = 422  # GitHub: "Only owners can use this filter."

    result = run_integration("github", config(github), tasks=["list_members", "member_without_2fa"])

    members = result["list_members"]
    assert members.status == "succeeded"
    assert members.data["without_2fa"] is None
    assert [m["login"] for m in members.data["members"]] == ["alice", "bob"]
    [error] = members.errors
    assert error.startswith(
        "acme: cannot list members without two-factor authentication "
        "(HTTP 422: Only owners can use this filter.)"
    )
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
