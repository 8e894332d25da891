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
    branches = ctx.get_data("list_branch_protections")["branches"]
    unprotected = [branch for branch in branches if not branch["protected"]]
    return {
        "data": {
            "checked": len(branches),
            "unprotected": [f"{branch['repository']}:{branch['branch']}" for branch in unprotected],
        },
        "message": f"{len(unprotected)} of {len(branches)} default branches are not protected",
        "violations": [
            {
                "resource": f"github:repo:{branch['repository']}:{branch['branch']}",
                "message": (
                    f"{branch['repository']}: default branch '{branch['branch']}' has no branch "
                    "protection and no ruleset"
                ),
                "data": branch,
            }
            for branch in unprotected
        ],
    }
