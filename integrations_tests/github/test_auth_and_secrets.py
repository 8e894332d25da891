"""StageOne's checks of the token and the organization, and no token in any log or error."""

import logging
from pathlib import Path

import pytest
import yaml

from integrations_pipeline.testing import run_integration, secret_leaks
from integrations_tests.github.fake_github import ORG, ORG_ID, TOKEN, GitHub, config

WRONG_TOKEN = "ghp_Revoked9876543210zyxwvuTSRQPONMLkjih"
EXAMPLE = Path(__file__).resolve().parents[2] / "integrations" / "github" / "config.example.yaml"


def test_a_rejected_token_fails_the_run_with_a_clear_error_and_no_token(
    github: GitHub, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    caplog.set_level(logging.DEBUG)
    github.add_repo("api")

    result = run_integration("github", config(github, token=WRONG_TOKEN))

    assert not result.success
    assert any("GitHub rejected the token (401 Bad credentials)" in e for e in result.errors), result.errors
    assert all(outcome.status != "succeeded" for outcome in result.tasks.values())
    assert [(r.path, r.status) for r in github.requests] == [(f"/orgs/{ORG}", 401)]
    assert github.requests[0].headers["Authorization"] == f"Bearer {WRONG_TOKEN}"
    assert not secret_leaks(result, [WRONG_TOKEN], caplog.text, *capfd.readouterr())


def test_an_unknown_organization_is_named_in_the_error(github: GitHub):
    result = run_integration("github", config(github, organization="no-such-org"))

    assert not result.success
    assert any(
        f"organization 'no-such-org' was not found at {github.url}, or the token cannot see it (404)" in e
        for e in result.errors
    ), result.errors


def test_no_token_in_logs_errors_or_the_event_log(
    github: GitHub,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    example = yaml.safe_load(EXAMPLE.read_text())["resources"]["github"]["config"]
    github.add_repo("api", protection="none")
    github.add_repo("locked", protection="forbidden")
    github.members = ["alice"]
    github.without_2fa = ["alice"]
    github.add_alert("api")
    # Retries log the failed request; the error paths record errors.
    github.fail_once(f"/orgs/{ORG}/members", 429, {"Retry-After": "1"})
    github.fail_once(f"/orgs/{ORG}/outside_collaborators", 502)

    # The token as the example config passes it: by reference to GITHUB_TOKEN.
    result = run_integration("github", {**example, "organization": ORG, "api_url": github.url})

    assert result.success, result.errors
    assert sorted(result.violations) == [
        "critical_dependabot_alert",
        "member_without_2fa",
        "unprotected_default_branch",
    ]
    assert result["list_branch_protections"].errors  # the 403 of acme/locked
    assert f"GET /orgs/{ORG}/members: HTTP 429; retry 1" in caplog.text
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in github.requests)
    assert not secret_leaks(result, [TOKEN], caplog.text, *capfd.readouterr())


def test_a_collector_meeting_a_revoked_token_says_so_without_the_token(
    github: GitHub, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    caplog.set_level(logging.DEBUG)
    # The token is revoked between StageOne and the collector: the repositories' page 2 answers 401.
    for i in range(101):
        github.add_repo(f"repo-{i:03d}")
    github.fail_once(f"/organizations/{ORG_ID}/repos", 401)

    result = run_integration("github", config(github), tasks=["list_repositories"])

    outcome = result["list_repositories"]
    assert outcome.status == "failed"
    assert (
        "listing the repositories of 'acme': GitHub rejected the token (401 Bad credentials)" in outcome.error
    )
    assert not secret_leaks(result, [TOKEN], caplog.text, *capfd.readouterr())
