"""Edge cases that must give a clear error for one integration and leave the rest working."""

import time

import dagster as dg
import pytest

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.orchestration import build as compile_module
from integrations_pipeline.orchestration.build import build_definitions
from integrations_pipeline.testing import run_integration

COLLECT = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="collect", order={order})
def collect(self, ctx: TaskContext):
    return {{"data": [1, 2], "message": "two"}}
"""


def collector(name="collect", order=100, body='return {"data": [1], "message": "one"}', **kwargs):
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return (
        "from integrations_pipeline.sdk import TaskContext, task\n\n\n"
        f"@task(name={name!r}, order={order}{args})\n"
        f"def {name}(self, ctx: TaskContext):\n    {body}\n"
    )


def insight(name, body, **kwargs):
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return (
        "from integrations_pipeline.sdk import TaskContext, task\n\n\n"
        f"@task(name={name!r}, type='insight'{args})\n"
        f"def {name}(self, ctx: TaskContext):\n    {body}\n"
    )


def test_a_default_that_breaks_its_own_schema_is_that_integrations_load_error(make_project):
    project = make_project(
        {
            "good": {"files": {"collectors/collect.py": collector()}},
            "bad_default": {
                "schema": {
                    "type": "object",
                    "properties": {"region": {"type": "string", "enum": ["us", "eu"], "default": "US"}},
                },
                "files": {"collectors/collect.py": collector()},
            },
        }
    )
    defs = build_definitions(load_catalog(project))
    assert defs.resolve_job_def("good").execute_in_process(raise_on_error=False).success
    assert defs.resolve_job_def("bad_default").description.startswith(
        "BROKEN: JSON Schema default of config field 'region' does not satisfy its own schema"
    )


def test_names_with_double_underscores_are_refused(make_project):
    project = make_project({"ok": {"files": {"collectors/c.py": collector("b__c")}}})
    [problem] = load_catalog(project).problems_of("ok")
    assert "task name 'b__c' does not fit" in problem.message


def test_enum_fields_with_look_alike_paths_keep_their_own_values(make_project):
    schema = {
        "type": "object",
        "properties": {
            "a_b": {"type": "object", "properties": {"c": {"type": "string", "enum": ["x", "y"]}}},
            "a": {"type": "object", "properties": {"b_c": {"type": "string", "enum": ["p", "q"]}}},
        },
    }
    project = make_project({"enums": {"schema": schema, "files": {"collectors/c.py": collector()}}})
    result = run_integration("enums", {"a_b": {"c": "x"}, "a": {"b_c": "q"}}, project=project)
    assert result.success, result.errors


def test_an_integration_dagster_rejects_is_isolated(make_project, monkeypatch):
    project = make_project(
        {
            "one": {"files": {"collectors/c.py": collector()}},
            "two": {"files": {"collectors/c.py": collector()}},
        }
    )
    original = compile_module.compile_integration

    def clashing(integration):
        compiled = original(integration)
        if integration.name == "two":

            @dg.asset(key=compiled.assets[0].key)
            def duplicate():  # a second asset with the same key: Dagster refuses
                return None

            compiled.assets.append(duplicate)
        return compiled

    monkeypatch.setattr(compile_module, "compile_integration", clashing)
    catalog = load_catalog(project)
    defs = build_definitions(catalog)
    assert defs.resolve_job_def("one").execute_in_process(raise_on_error=False).success
    assert defs.resolve_job_def("two").description.startswith("BROKEN: cannot compile")


def test_succeeded_about_an_insight_is_a_load_error(make_project):
    files = {
        "collectors/c.py": collector(),
        "insights/first.py": insight("first", 'return {"data": ctx.get_data("collect")}'),
        "insights/second.py": insight("second", 'return {"data": [ctx.succeeded("first")]}'),
    }
    project = make_project({"demo": {"files": files}})
    [problem] = load_catalog(project).problems_of("demo")
    assert "task 'second': asks about insight 'first'" in problem.message


def test_succeeded_about_a_disabled_or_later_collector_is_false_at_once(make_project):
    files = {
        "collectors/early.py": collector("early", 10, 'return {"data": [ctx.succeeded("late")]}'),
        "collectors/late.py": collector("late", 20),
        "collectors/old.py": collector("old", 30, enabled=False),
        "insights/judge.py": insight(
            "judge", 'return {"data": [ctx.succeeded("old"), ctx.succeeded("late")]}'
        ),
    }
    project = make_project({"demo": {"files": files}})
    started = time.monotonic()
    result = run_integration("demo", {}, project=project)
    assert time.monotonic() - started < 20  # no waiting for the 900 s default timeout
    assert result.success, result.errors
    assert result["early"].data == [False]  # in guide order, 'late' has not run yet
    assert result["judge"].data == [False, True]


def test_only_calls_on_ctx_are_dependencies(make_project):
    body = 'api = {"x": 1}; api.get("/users"); return {"data": [ctx.get_data("collect")]}'
    files = {
        "collectors/c.py": collector(),
        "collectors/api.py": collector(
            "with_client",
            body=(
                "class Api:\n        def get_data(self, p): return p\n"
                '    return {"data": [Api().get_data("/users")]}'
            ),
        ),
        "insights/judge.py": insight("judge", body),
    }
    project = make_project({"demo": {"files": files}})
    catalog = load_catalog(project)
    assert catalog.problems == []
    assert catalog.integrations["demo"].all_tasks["with_client"].data_deps == ()


def test_tasks_naming_an_insight_without_its_collector_is_refused(make_project):
    files = {
        "collectors/c.py": collector(),
        "insights/judge.py": insight("judge", 'return {"data": ctx.get_data("collect")}'),
    }
    project = make_project({"demo": {"files": files}})
    result = run_integration("demo", {}, tasks=["judge"], project=project)
    assert not result.success
    assert any("names 'judge' but not 'collect', whose data it reads" in e for e in result.errors), (
        result.errors
    )


@pytest.mark.parametrize("marker", [{"writeOnly": True}, {"format": "password"}])
def test_secret_fields_behind_refs_are_redacted(make_project, marker):
    schema = {
        "type": "object",
        "$defs": {"secret": {"type": "string", **marker}},
        "properties": {"pin": {"$ref": "#/$defs/secret"}, "nested": {"allOf": [{"$ref": "#/$defs/secret"}]}},
    }
    body = "ctx.add_log(f\"pin={ctx.config['pin']} nested={ctx.config['nested']}\"); return {\"data\": []}"
    project = make_project({"demo": {"schema": schema, "files": {"collectors/c.py": collector(body=body)}}})
    result = run_integration("demo", {"pin": "pin-secret-1", "nested": "nested-secret-2"}, project=project)
    assert result["collect"].logs == ["pin=*** nested=***"]
