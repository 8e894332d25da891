from integrations_pipeline.sdk import TaskContext, task


@task(
    name="member_without_2fa",
    title="Member without two-factor authentication",
    description=(
        "A member whose account has no two-factor authentication can be taken over with a password "
        "alone. Remediation: ask the member to enable 2FA, or require 2FA for the organization "
        "(Settings > Authentication security), which removes members without it."
    ),
    type="insight",
    severity="critical",
)
def member_without_2fa(self, ctx: TaskContext):
    members = ctx.get_data("list_members")
    organization, without_2fa = members["organization"], members["without_2fa"]
    if without_2fa is None:
        # Not a pass: GitHub only tells owners who lacks 2FA (list_members recorded why).
        raise PermissionError(
            f"{organization}: the members' two-factor status is unknown; the token must be an owner's"
        )
    total = len(members["members"])
    return {
        "data": {"members": total, "without_2fa": without_2fa},
        "message": f"{len(without_2fa)} of {total} members have no two-factor authentication",
        "violations": [
            {
                "resource": f"github:member:{organization}/{login}",
                "message": f"{login}, a member of {organization}, has no two-factor authentication",
                "data": {"organization": organization, "login": login},
            }
            for login in without_2fa
        ],
    }
