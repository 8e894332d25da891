from integrations_pipeline.sdk import HttpError, TaskContext, task

from ..github_api import explain, get_all, rate_limited, task_client

OWNER_NEEDED = (
    "only organization owners may list members without two-factor authentication; "
    "use an owner's token (fine-grained: organization Members read)"
)


@task(
    name="list_members",
    title="List members",
    description="The organization's members, and those without two-factor authentication (owners only).",
    type="collector",
)
def list_members(self, ctx: TaskContext):
    organization = ctx.base("organization")
    path = f"/orgs/{organization}/members"
    with task_client(ctx) as api:
        try:
            members = get_all(api, path)
        except HttpError as error:
            raise explain(
                error, f"listing the members of '{organization}'", "the token needs organization Members read"
            ) from error
        try:
            without_2fa = sorted(member["login"] for member in get_all(api, path, {"filter": "2fa_disabled"}))
        except HttpError as error:
            if error.status_code not in (403, 422) or rate_limited(error):
                raise explain(error, f"listing the members of '{organization}' without 2FA") from error
            said = f": {error.api_message}" if error.api_message else ""
            ctx.add_error(
                f"{organization}: cannot list members without two-factor authentication "
                f"(HTTP {error.status_code}{said}); {OWNER_NEEDED}"
            )
            without_2fa = None
    known = f"{len(without_2fa)} without two-factor authentication" if without_2fa is not None else None
    return {
        "data": {
            "organization": organization,
            "two_factor_requirement_enabled": ctx.base("two_factor_requirement_enabled"),
            "members": [
                {"login": m["login"], "html_url": m.get("html_url"), "site_admin": m.get("site_admin", False)}
                for m in members
            ],
            # None: unknown, the token is not an owner's.
            "without_2fa": without_2fa,
        },
        "message": f"{len(members)} members in {organization}, {known or 'two-factor status unknown'}",
    }
