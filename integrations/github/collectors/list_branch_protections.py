import asyncio
from typing import Any
from urllib.parse import quote

from integrations_pipeline.sdk import AsyncHttpClient, HttpError, TaskContext, task

from ..github_api import PER_PAGE, async_task_client, explain, rate_limited

# The only 404 that means "no protection": GitHub also answers 404 ("Not Found") to a token whose
# user is not an admin of the repository, and "Branch not found" when the branch does not exist.
NOT_PROTECTED = "Branch not protected"
# A private repository of an organization on GitHub Free: "Upgrade to GitHub Pro or make this
# repository public to enable this feature."
PLAN_REFUSAL = "Upgrade to GitHub Pro"
NEEDS_ADMIN = (
    "the token's user needs admin rights on the repository (fine-grained token: Administration read)"
)


class Unreadable(Exception):
    """The protection of one repository's default branch could not be read; the message says why."""


@task(
    name="list_branch_protections",
    title="List default-branch protections",
    description=(
        "How each repository's default branch is protected: branch protection rules, else rulesets. "
        "Archived repositories only with include_archived."
    ),
    type="collector",
)
def list_branch_protections(self, ctx: TaskContext):
    organization = ctx.base("organization")
    repositories = ctx.get_data("list_repositories")["repositories"]
    include_archived = ctx.config.get("include_archived", False)
    inspected = [repo for repo in repositories if include_archived or not repo["archived"]]
    unreadable: list[str] = []

    async def inspect_all() -> list[dict[str, Any] | None]:
        async with async_task_client(ctx) as api:
            return list(await asyncio.gather(*(inspect(api, repo) for repo in inspected)))

    async def inspect(api: AsyncHttpClient, repo: dict[str, Any]) -> dict[str, Any] | None:
        """``repo``'s default branch protection; None, with an error, if it cannot be read."""
        try:
            return await read(api, repo)
        except Unreadable as error:
            name, branch = repo["full_name"], repo["default_branch"]
            unreadable.append(name)
            ctx.add_error(f"{name}: cannot read the protection of branch '{branch}': {error}")
            return None

    branches = [found for found in asyncio.run(inspect_all()) if found is not None]
    unprotected = sum(1 for branch in branches if not branch["protected"])
    return {
        "data": {"organization": organization, "branches": branches, "unreadable": sorted(unreadable)},
        "message": (
            f"{len(branches)} default branches read, {unprotected} unprotected"
            + (f"; {len(unreadable)} could not be read" if unreadable else "")
        ),
    }


async def read(api: AsyncHttpClient, repo: dict[str, Any]) -> dict[str, Any]:
    """Branch protection of ``repo``'s default branch, else the rulesets that apply to it.

    Raises:
        Unreadable: GitHub did not say whether the branch is protected.
        GitHubError: the token was rejected (401): every other repository would fail the same way.
    """
    name, branch = repo["full_name"], repo["default_branch"]
    quoted = quote(branch, safe="/")
    found = {"repository": name, "html_url": repo["html_url"], "branch": branch}
    note = None
    try:
        response = await api.get(f"/repos/{name}/branches/{quoted}/protection")
        return {**found, "protected": True, "source": "branch_protection", **summary(response.json())}
    except HttpError as error:
        if refused_by_plan(error):
            # Not unknown: the plan, not the token, rules out branch protection, so nothing stops a
            # force push to this branch (unless a ruleset, asked for next, does). Reporting it
            # unknown would hide that exposure for good; the note tells the reader the remedy.
            note = f"branch protection is not available for this repository on the plan: {error.api_message}"
        elif not (error.status_code == 404 and error.api_message == NOT_PROTECTED):
            raise failure(error, f"{name}: reading the protection of branch '{branch}'") from error
    try:
        response = await api.get(f"/repos/{name}/rules/branches/{quoted}", params={"per_page": PER_PAGE})
        rules = sorted({rule["type"] for rule in response.json()})
    except HttpError as error:
        # 404: GitHub Enterprise Server before rulesets (the repository itself answered above).
        if error.status_code != 404 and not refused_by_plan(error):
            raise failure(error, f"{name}: reading the rules of branch '{branch}'") from error
        rules = []
    return {
        **found,
        "protected": bool(rules),
        "source": "rulesets" if rules else None,
        "rules": rules,
        "note": note,
    }


def refused_by_plan(error: HttpError) -> bool:
    """GitHub's plan, not the token, refused: the repository cannot have this protection."""
    return error.status_code == 403 and PLAN_REFUSAL in (error.api_message or "")


def failure(error: HttpError, what: str) -> Exception:
    """What ``error`` means for the collector: the token is bad (raise), or this repository is unknown."""
    if error.status_code == 401:
        return explain(error, what)
    if rate_limited(error) or error.status_code not in (403, 404):
        return Unreadable(str(error))
    said = f"HTTP {error.status_code}" + (f" ({error.api_message})" if error.api_message else "")
    if error.status_code == 404 and error.api_message == "Branch not found":
        return Unreadable(f"{said}; the branch does not exist (an empty repository has none)")
    return Unreadable(f"{said}; {NEEDS_ADMIN}")


def summary(protection: dict[str, Any]) -> dict[str, Any]:
    """What matters most in a branch protection: required reviews, admins included, force pushes."""
    reviews = protection.get("required_pull_request_reviews")
    return {
        "required_approving_reviews": reviews.get("required_approving_review_count", 0) if reviews else None,
        "enforce_admins": (protection.get("enforce_admins") or {}).get("enabled", False),
        "allow_force_pushes": (protection.get("allow_force_pushes") or {}).get("enabled", False),
    }
