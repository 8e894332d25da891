"""The public authoring API and the @task decorator's validation."""

import pytest

from integrations_pipeline import sdk
from integrations_pipeline.authoring.tasks import TASK_MARKER, TaskDef, TaskRegistry
from integrations_pipeline.common.errors import TaskDefinitionError
from integrations_pipeline.sdk import task


def test_sdk_exports_are_sorted_and_complete():
    # dir(): the HTTP toolkit's names are loaded on first use, so not yet in vars(sdk).
    public = {name for name in dir(sdk) if not name.startswith("_")}
    assert all(getattr(sdk, name) is not None for name in sdk.__all__)
    assert sdk.__all__ == sorted(sdk.__all__)
    assert set(sdk.__all__) == public
    assert {"BaseRunner", "TaskContext", "register_tasks", "register_secrets", "task", "HttpClient"} <= set(
        sdk.__all__
    )


def test_defaults_follow_the_guide():
    @task(name="collect_things")
    def collect_things(self, ctx):
        """Collects the things."""

    @task(name="judge_things", type="insight")
    def judge_things(self, ctx):
        pass

    collector = getattr(collect_things, TASK_MARKER)
    insight = getattr(judge_things, TASK_MARKER)
    assert (collector.type, collector.order, collector.enabled, collector.severity) == (
        "collector", 100, True, None,
    )  # fmt: skip
    assert collector.description == "Collects the things."
    assert (insight.type, insight.order, insight.severity) == ("insight", 500, "medium")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "x1", "type": "checker"}, "type"),
        ({"name": "x2", "type": "insight", "severity": "urgent"}, "severity"),
        ({"name": "x3", "severity": "high"}, "severity is for insights only"),
        ({"name": "Bad Name"}, "does not fit"),
        ({"name": "feed\n"}, "does not fit"),  # `$` alone would let a trailing newline through
        ({"name": "x4", "order": "first"}, "order"),
    ],
)
def test_bad_decorator_arguments_name_integration_file_and_task(kwargs, expected):
    with pytest.raises(TaskDefinitionError) as raised:

        @task(**kwargs)
        def some_task(self, ctx):
            pass

    message = str(raised.value)
    assert expected in message
    assert f"task '{kwargs['name']}'" in message
    assert "test_sdk.py" in message
    assert "integration 'framework'" in message  # the folder two levels up


def test_registry_refuses_duplicates_and_resets():
    registry = TaskRegistry()

    @task(name="same")
    def first(self, ctx):
        pass

    @task(name="same")
    def second(self, ctx):
        pass

    registry.register(TaskDef("demo", getattr(first, TASK_MARKER), first, "a.py"))
    with pytest.raises(TaskDefinitionError, match=r"duplicate task name; already defined in a\.py"):
        registry.register(TaskDef("demo", getattr(second, TASK_MARKER), second, "b.py"))
    registry.reset()
    assert not registry.has("demo")
