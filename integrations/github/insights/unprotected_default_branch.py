from integrations_pipeline.sdk import TaskContext, task


@task(
    name="unprotected_default_branch",
    title="Default branch is not protected",
    description=(
        "A default branch with neither branch protection nor a ruleset can be force-pushed, deleted "
        "or changed without review. Remediation: protect it (Settings > Branches or Rules) and "
        "require pull request reviews."
    ),
    type="insight",
    severity="high",
)
def unprotected_default_branch(self, ctx: TaskContext):
    protections = ctx.get_data("list_branch_protections")
    branches, unknown = protections["branches"], protections["unreadable"]
    if unknown and not branches:
        # Not a pass: nothing was judged (list_branch_protections recorded why for each repository).
        raise RuntimeError(
            f"{protections['organization']}: the protection of all {len(unknown)} inspected default "
            "branches is unknown; see the errors of list_branch_protections"
        )
    unprotected = [branch for branch in branches if not branch["protected"]]
    inspected = len(branches) + len(unknown)
    return {
        "data": {
            "inspected": inspected,
            "unprotected": [f"{branch['repository']}:{branch['branch']}" for branch in unprotected],
            "unknown": unknown,
        },
        "message": (
            f"{len(unprotected)} of {inspected} default branches are not protected"
            + (f", {len(unknown)} unknown" if unknown else "")
        ),
        "violations": [
            {
                "resource": f"github:repo:{branch['repository']}:{branch['branch']}",
                "message": (
                    f"{branch['repository']}: default branch '{branch['branch']}' has no branch "
                    "protection and no ruleset" + (f" ({branch['note']})" if branch.get("note") else "")
                ),
                "data": branch,
            }
            for branch in unprotected
        ],
    }
