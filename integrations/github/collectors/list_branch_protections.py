import asyncio
from typing import Any
from urllib.parse import quote

from integrations_pipeline.sdk import AsyncHttpClient, HttpError, TaskContext, task

from ..github_api import PER_PAGE, async_task_client, explain

NO_PERMISSION = "the token needs the repository Administration read permission"


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
    repositories = ctx.get_data("list_repositories")["repositories"]
    include_archived = ctx.config.get("include_archived", False)
    inspected = [repo for repo in repositories if include_archived or not repo["archived"]]
    unreadable: list[str] = []

    async def inspect_all() -> list[dict[str, Any] | None]:
        async with async_task_client(ctx) as api:
            return list(await asyncio.gather(*(inspect(api, repo) for repo in inspected)))

    async def inspect(api: AsyncHttpClient, repo: dict[str, Any]) -> dict[str, Any] | None:
        """The protection of ``repo``'s default branch; None, with an error, if it cannot be read."""
        name, branch = repo["full_name"], repo["default_branch"]
        quoted = quote(branch, safe="/")
        found = {"repository": name, "html_url": repo["html_url"], "branch": branch}
        try:
            response = await api.get(f"/repos/{name}/branches/{quoted}/protection")
            return {**found, "protected": True, "source": "branch_protection", **summary(response.json())}
        except HttpError as error:
            if error.status_code == 403:
                unreadable.append(name)
                ctx.add_error(
                    f"{name}: cannot read the protection of branch '{branch}' (403); {NO_PERMISSION}"
                )
                return None
            if error.status_code != 404:  # 404 is GitHub's "Branch not protected"
                raise explain(error, f"{name}: reading the protection of branch '{branch}'") from error
        try:
            response = await api.get(f"/repos/{name}/rules/branches/{quoted}", params={"per_page": PER_PAGE})
            rules = sorted({rule["type"] for rule in response.json()})
        except HttpError as error:
            if error.status_code != 404:  # GitHub Enterprise Server before rulesets
                raise explain(error, f"{name}: reading the rules of branch '{branch}'") from error
            rules = []
        return {**found, "protected": bool(rules), "source": "rulesets" if rules else None, "rules": rules}

    branches = [found for found in asyncio.run(inspect_all()) if found is not None]
    unprotected = sum(1 for branch in branches if not branch["protected"])
    return {
        "data": {"branches": branches, "unreadable": sorted(unreadable)},
        "message": (
            f"{len(branches)} default branches read, {unprotected} unprotected"
            + (f"; {len(unreadable)} could not be read" if unreadable else "")
        ),
    }


def summary(protection: dict[str, Any]) -> dict[str, Any]:
    """What matters most in a branch protection: required reviews, admins included, force pushes."""
    reviews = protection.get("required_pull_request_reviews")
    return {
        "required_approving_reviews": reviews.get("required_approving_review_count", 0) if reviews else None,
        "enforce_admins": (protection.get("enforce_admins") or {}).get("enabled", False),
        "allow_force_pushes": (protection.get("allow_force_pushes") or {}).get("enabled", False),
    }
