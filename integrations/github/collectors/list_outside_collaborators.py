from integrations_pipeline.sdk import HttpError, TaskContext, task

from ..github_api import explain, get_all, task_client


@task(
    name="list_outside_collaborators",
    title="List outside collaborators",
    description="People who are not members but can access some of the organization's repositories.",
    type="collector",
)
def list_outside_collaborators(self, ctx: TaskContext):
    organization = ctx.base("organization")
    try:
        with task_client(ctx) as api:
            collaborators = get_all(api, f"/orgs/{organization}/outside_collaborators")
    except HttpError as error:
        raise explain(
            error,
            f"listing the outside collaborators of '{organization}'",
            "the token needs organization Members read",
        ) from error
    return {
        "data": {
            "organization": organization,
            "outside_collaborators": [
                {"login": c["login"], "html_url": c.get("html_url")} for c in collaborators
            ],
        },
        "message": f"{len(collaborators)} outside collaborators in {organization}",
    }
