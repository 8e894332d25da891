"""A task is called as ``fn(self, ctx)``: a function that cannot be is a load problem of its
integration, found by ``integrations validate``, not a failure when the task runs."""

import subprocess
import sys

from integrations_tests.conftest import PROJECT

WELL_FORMED = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="list_items", type="collector")
def list_items(self, ctx: TaskContext, page_size=100):
    return {"data": []}
"""

NO_SELF = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="check_items", type="insight")
def check_items(ctx: TaskContext):
    return {"data": ctx.get_data("list_items")}
"""

TOO_MANY = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="list_more", type="collector")
async def list_more(self, ctx: TaskContext, region):
    return {"data": []}
"""


def validate(project):
    return subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", "--project", str(project), "validate"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_validate_names_a_task_that_cannot_be_called_with_self_and_ctx(make_project):
    project = make_project(
        {
            "fine": {"files": {"collectors/items.py": WELL_FORMED}},
            "no_self": {"files": {"collectors/items.py": WELL_FORMED, "insights/check.py": NO_SELF}},
            "too_many": {"files": {"collectors/more.py": TOO_MANY}},
        }
    )
    out = validate(project)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, lines
    no_self, too_many = sorted(lines)
    assert no_self.startswith("no_self: task 'check_items': 'check_items(ctx)' cannot be called as a task")
    assert "define it as 'def check_items(self, ctx: TaskContext)'" in no_self
    assert no_self.endswith("insights/check.py)")
    assert too_many.startswith("too_many: task 'list_more': 'list_more(self, ctx, region)' cannot be called")
    assert "'async def list_more(self, ctx: TaskContext)'" in too_many
