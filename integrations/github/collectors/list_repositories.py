from integrations_pipeline.sdk import HttpError, TaskContext, task

from ..github_api import explain, get_all, task_client

FIELDS = ("name", "full_name", "html_url", "private", "visibility", "archived", "default_branch")


@task(
    name="list_repositories",
    title="List repositories",
    description="Every repository of the organization: visibility, archived flag and default branch.",
    type="collector",
)
def list_repositories(self, ctx: TaskContext):
    organization = ctx.base("organization")
    try:
        with task_client(ctx) as api:
            repos = get_all(api, f"/orgs/{organization}/repos", {"type": "all"})
    except HttpError as error:
        raise explain(
            error, f"listing the repositories of '{organization}'", "the token needs Metadata read access"
        ) from error
    repositories = [{key: repo.get(key) for key in FIELDS} for repo in repos]
    archived = sum(1 for repo in repositories if repo["archived"])
    return {
        "data": {"organization": organization, "repositories": repositories},
        "message": f"{len(repositories)} repositories in {organization} ({archived} archived)",
    }
