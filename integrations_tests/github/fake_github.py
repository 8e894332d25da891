"""A local GitHub REST API: GitHub's response shapes, Link-header pagination and injected faults."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

TOKEN = "ghp_Test0123456789abcdefGHIJKLMNOPqrstuv"
ORG = "acme"
ORG_ID = 4242
DOCS = "https://docs.github.com/rest"
PROTECTION_DOCS = "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"
# GitHub's answer about a private repository of an organization on the Free plan.
UPGRADE = "Upgrade to GitHub Pro or make this repository public to enable this feature."

Headers = dict[str, str | Callable[[], str]]


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    at: float  # time.monotonic() when answered


@dataclass
class GitHub:
    """The state of one organization; each test sets what it needs before running."""

    url: str = ""
    repos: list[dict[str, Any]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    without_2fa: list[str] = field(default_factory=list)
    # What the members?filter=2fa_disabled endpoint answers: 200, or 422 to a non-owner.
    two_factor_filter_status: int = 200
    outside_collaborators: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alerts_status: int = 200
    # True: the alerts endpoint ignores its state and severity filters.
    alerts_ignore_filter: bool = False
    # Seconds each branch-protection request takes, so that concurrency can be observed.
    protection_delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    faults: dict[str, list[tuple[int, Headers, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_repo(
        self, name: str, *, protection: str = "protected", archived: bool = False, branch: str = "main"
    ) -> None:
        """``protection``: how GitHub answers for the default branch's protection, as it does for

        - "protected": 200, a branch protection;
        - "none": 404 "Branch not protected" (then no ruleset); "ruleset": the same, then rulesets;
        - "forbidden": 403, a GitHub App without the Administration permission;
        - "no_admin": 404 "Not Found", a token whose user is not an admin of the repository;
        - "empty": 404 "Branch not found", an empty repository (no commit, so no branch);
        - "free_private": 403 UPGRADE, to both the protection and the rules;
        - "blocked": 451 "Repository access blocked"; "broken": 503 (with Retry-After: 0), every time.
        """
        self.repos.append(
            {
                "id": 1000 + len(self.repos),
                "node_id": f"R_{len(self.repos)}",
                "name": name,
                "full_name": f"{ORG}/{name}",
                "private": name.startswith("private"),
                "visibility": "private" if name.startswith("private") else "public",
                "owner": {"login": ORG, "id": ORG_ID, "type": "Organization"},
                "html_url": f"https://github.com/{ORG}/{name}",
                "url": f"https://api.github.com/repos/{ORG}/{name}",
                "fork": False,
                "archived": archived,
                "disabled": False,
                "default_branch": branch,
                "protection": protection,  # the test server's own field; GitHub has no such one
            }
        )

    def add_alert(self, repo: str, *, severity: str = "critical", state: str = "open") -> dict[str, Any]:
        number = len(self.alerts) + 1
        alert = {
            "number": number,
            "state": state,
            "html_url": f"https://github.com/{ORG}/{repo}/security/dependabot/{number}",
            "url": f"https://api.github.com/repos/{ORG}/{repo}/dependabot/alerts/{number}",
            "created_at": "2024-05-01T10:00:00Z",
            "dependency": {
                "package": {"ecosystem": "npm", "name": f"lib{number}"},
                "manifest_path": "package-lock.json",
                "scope": "runtime",
            },
            "security_advisory": {
                "ghsa_id": f"GHSA-{number:04d}-abcd-efgh",
                "cve_id": f"CVE-2024-{number:05d}",
                "summary": f"Remote code execution in lib{number}",
                "severity": severity,
            },
            "security_vulnerability": {
                "package": {"ecosystem": "npm", "name": f"lib{number}"},
                "severity": severity,
                "vulnerable_version_range": "< 2.0.0",
                "first_patched_version": {"identifier": "2.0.0"},
            },
            "repository": {"id": 1, "name": repo, "full_name": f"{ORG}/{repo}", "private": False},
        }
        self.alerts.append(alert)
        return alert

    def fail_once(
        self, path: str, status: int, headers: Headers | None = None, message: str = "injected fault"
    ) -> None:
        """The next request to ``path`` (any query) gets ``status`` and ``message`` instead of its answer.

        A header's value may be a function, called when the fault is served (a rate limit's reset).
        """
        self.faults.setdefault(path, []).append((status, headers or {}, message))

    def served(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


class Handler(BaseHTTPRequestHandler):
    """Answers as api.github.com does for organization ORG; subclassed per server with its state."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    github: GitHub

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, query = unquote(url.path), dict(parse_qsl(url.query))
        github = self.github
        with github.lock:
            github.in_flight += 1
            github.max_in_flight = max(github.max_in_flight, github.in_flight)
            fault = github.faults[path].pop(0) if github.faults.get(path) else None
        try:
            if fault:
                status, body = fault[0], {"message": fault[2], "documentation_url": DOCS}
                headers = {key: value() if callable(value) else value for key, value in fault[1].items()}
            elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, body, headers = 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}
            else:
                status, body, headers = self.route(
                    path.replace(f"/organizations/{ORG_ID}", f"/orgs/{ORG}"), query
                )
            with github.lock:
                github.requests.append(Request(path, query, dict(self.headers), status, time.monotonic()))
            self.reply(status, body, headers)
        finally:
            with github.lock:
                github.in_flight -= 1

    def route(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        github = self.github
        if path == f"/orgs/{ORG}":
            org = {
                "login": ORG,
                "id": ORG_ID,
                "url": f"{github.url}/orgs/{ORG}",
                "html_url": f"https://github.com/{ORG}",
                "type": "Organization",
                "two_factor_requirement_enabled": False,
            }
            return 200, org, {}
        if path == f"/orgs/{ORG}/repos":
            repos = [{k: v for k, v in r.items() if k != "protection"} for r in github.repos]
            return self.page(path, query, repos)
        if path == f"/orgs/{ORG}/members":
            if query.get("filter") == "2fa_disabled":
                if github.two_factor_filter_status != 200:
                    return (
                        github.two_factor_filter_status,
                        {"message": "Only owners can use this filter."},
                        {},
                    )
                return self.page(path, query, [user(login) for login in github.without_2fa])
            return self.page(path, query, [user(login) for login in github.members])
        if path == f"/orgs/{ORG}/outside_collaborators":
            return self.page(path, query, [user(login) for login in github.outside_collaborators])
        if path == f"/orgs/{ORG}/dependabot/alerts":
            if github.alerts_status != 200:
                return github.alerts_status, {"message": "Resource not accessible by integration"}, {}
            return self.alerts(path, query)
        protection = re.fullmatch(rf"/repos/{ORG}/([^/]+)/branches/(.+)/protection", path)
        if protection:
            time.sleep(github.protection_delay)
            return self.protection(*protection.groups())
        rules = re.fullmatch(rf"/repos/{ORG}/([^/]+)/rules/branches/(.+)", path)
        if rules:
            repo = self.repo(*rules.groups())
            if repo is None:
                return 404, {"message": "Not Found"}, {}
            if repo["protection"] == "free_private":
                return 403, {"message": UPGRADE, "documentation_url": DOCS}, {}
            if repo["protection"] != "ruleset":
                return 200, [], {}
            source = {"ruleset_source_type": "Organization", "ruleset_source": ORG, "ruleset_id": 7}
            return 200, [{"type": "pull_request", **source}, {"type": "non_fast_forward", **source}], {}
        return 404, {"message": "Not Found", "documentation_url": DOCS}, {}

    def repo(self, name: str, branch: str) -> dict[str, Any] | None:
        return next(
            (r for r in self.github.repos if (r["name"], r["default_branch"]) == (name, branch)), None
        )

    def protection(self, name: str, branch: str) -> tuple[int, Any, dict[str, str]]:
        repo = self.repo(name, branch)
        kind = repo["protection"] if repo else "empty"
        refusals: dict[str, tuple[int, str]] = {
            "none": (404, "Branch not protected"),
            "ruleset": (404, "Branch not protected"),
            "forbidden": (403, "Resource not accessible by integration"),
            "no_admin": (404, "Not Found"),
            "empty": (404, "Branch not found"),
            "free_private": (403, UPGRADE),
            "blocked": (451, "Repository access blocked"),
            "broken": (503, "Service Unavailable"),
        }
        if kind in refusals:
            status, message = refusals[kind]
            headers = {"Retry-After": "0"} if status == 503 else {}  # retried at once: a quick test
            return status, {"message": message, "documentation_url": PROTECTION_DOCS}, headers
        url = f"{self.github.url}/repos/{ORG}/{name}/branches/{branch}/protection"
        return (
            200,
            {
                "url": url,
                "required_pull_request_reviews": {"required_approving_review_count": 2},
                "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": True},
                "allow_force_pushes": {"enabled": False},
                "allow_deletions": {"enabled": False},
            },
            {},
        )

    def page(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        """Page ``page`` of ``per_page`` (30 by default, at most 100), with GitHub's Link header."""
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))

        def link(number: int) -> str:
            # GitHub links to /organizations/<id>/..., keeping the query and putting page last.
            target = {k: v for k, v in query.items() if k != "page"} | {"page": number}
            by_id = path.replace(f"/orgs/{ORG}", f"/organizations/{ORG_ID}")
            return f"{self.github.url}{by_id}?{urlencode(target)}"

        links = []
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        if page < last:
            links += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{link(1)}>; rel="first"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, items[(page - 1) * per_page : page * per_page], headers

    def alerts(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """Dependabot alerts: filtered by state and severity, cursor-paginated with ``after``."""
        per_page = min(int(query.get("per_page", 30)), 100)
        start = int(base64.b64decode(query["after"]).decode().split(":")[1]) if "after" in query else 0
        matching = [
            alert
            for alert in self.github.alerts
            if self.github.alerts_ignore_filter
            or (
                alert["state"] in query.get("state", alert["state"]).split(",")
                and alert["security_advisory"]["severity"]
                in query.get("severity", "critical,high,medium,low").split(",")
            )
        ]
        headers = {}
        if start + per_page < len(matching):
            cursor = base64.b64encode(f"cursor:{start + per_page}".encode()).decode()
            target = {k: v for k, v in query.items() if k != "after"} | {"after": cursor}
            next_url = f"{self.github.url}/organizations/{ORG_ID}/dependabot/alerts?{urlencode(target)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return 200, matching[start : start + per_page], headers

    def reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": zlib.crc32(login.encode()),
        "type": "User",
        "site_admin": False,
        "html_url": f"https://github.com/{login}",
    }


def config(github: GitHub, **overrides: Any) -> dict[str, Any]:
    """The integration's config for ``github``, with a literal token unless overridden."""
    return {"token": TOKEN, "organization": ORG, "api_url": github.url, **overrides}


def serve() -> tuple[GitHub, ThreadingHTTPServer]:
    """A GitHub API for organization ORG on a free loopback port; it answers only TOKEN."""
    state = GitHub()
    handler = type("GitHubHandler", (Handler,), {"github": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    return state, httpd
