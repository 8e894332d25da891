"""`integrations run --all` and `--tag`: several integrations in turn, one summary line each."""

from __future__ import annotations

import json
from pathlib import Path

from integrations_tests.framework.cli.command import integrations

COUNT = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="count", type="collector")
def count(self, ctx: TaskContext):
    return {"data": {"n": ctx.config["n"]}, "message": f"counted {ctx.config['n']}"}
"""

TOO_MANY = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="too_many", type="insight", severity="low")
def too_many(self, ctx: TaskContext):
    n = ctx.get_data("count")["n"]
    return {"data": {"n": n}, "violation": n > 2, "message": f"{n} counted"}
"""

FETCH_FAILS = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="fetch", type="collector")
def fetch(self, ctx: TaskContext):
    raise RuntimeError("upstream is down")
"""

COUNTER_SCHEMA = {
    "type": "object",
    "required": ["n"],
    "properties": {"n": {"type": "integer"}},
}


def project_of_four(make_project) -> Path:
    """counter (passes, one violation), flaky (a collector raises), dormant (disabled), other."""
    counter = {
        "collectors/count.py": COUNT,
        "insights/too_many.py": TOO_MANY,
        "config.example.yaml": "n: 5\n",
    }
    return make_project(
        {
            "counter": {"schema": COUNTER_SCHEMA, "entry": {"tags": ["team-a", "nightly"]}, "files": counter},
            "flaky": {
                "entry": {"tags": ["nightly"]},
                "files": {"collectors/fetch.py": FETCH_FAILS, "config.example.yaml": "{}\n"},
            },
            "dormant": {"entry": {"tags": ["nightly"], "enabled": False}},
            "other": {
                "schema": COUNTER_SCHEMA,
                "entry": {"tags": ["team-b"]},
                "files": {"collectors/count.py": COUNT, "config.example.yaml": "n: 1\n"},
            },
        }
    )


def summary(stdout: str) -> dict[str, str]:
    """The summary's lines by integration: what follows the last 'N integration(s):' line."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if " integration(s): " in line)
    return {line.split()[0]: line for line in lines[start + 1 :] if line.strip()}


def test_run_all_reports_every_integration_and_fails_if_one_failed(make_project):
    project = project_of_four(make_project)
    ran = integrations("--project", str(project), "run", "--all")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    lines = summary(ran.stdout)
    assert list(lines) == ["counter", "flaky", "dormant", "other"]
    assert lines["counter"].split()[1] == "succeeded" and "1 violation(s): too_many" in lines["counter"]
    assert lines["flaky"].split()[1] == "failed" and "upstream is down" in lines["flaky"]
    assert lines["dormant"].split()[1] == "skipped" and "disabled" in lines["dormant"]
    assert lines["other"].split()[1] == "succeeded" and "0 violation(s)" in lines["other"]
    assert "4 integration(s): 2 succeeded, 1 failed, 1 skipped" in ran.stdout


def test_run_by_tag_runs_only_the_tagged_integrations(make_project):
    project = project_of_four(make_project)
    one = integrations("--project", str(project), "run", "--tag", "team-b")
    assert one.returncode == 0, one.stdout + one.stderr
    assert list(summary(one.stdout)) == ["other"]
    either = integrations("--project", str(project), "run", "--tag", "team-a", "--tag", "team-b")
    assert either.returncode == 0, either.stdout + either.stderr
    assert list(summary(either.stdout)) == ["counter", "other"]
    unknown = integrations("--project", str(project), "run", "--tag", "nobody")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == [
        "error: no integration in integrations.json is tagged 'nobody' (tags: nightly, team-a, team-b)"
    ]


def test_config_dir_gives_each_its_config_and_a_missing_or_bad_file_fails_that_one_only(
    make_project, tmp_path
):
    project = project_of_four(make_project)
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "counter.yaml").write_text("resources: {counter: {config: {n: 1}}}\n")
    (configs / "other.yaml").write_text("n: not-a-number\n")
    ran = integrations("--project", str(project), "run", "--tag", "nightly", "--tag", "team-b",
                       "--config-dir", str(configs))  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    lines = summary(ran.stdout)
    assert lines["counter"].split()[1] == "succeeded" and "0 violation(s)" in lines["counter"]
    assert lines["flaky"].split()[1] == "failed"
    assert f"config file {configs / 'flaky.yaml'} not found" in lines["flaky"]
    assert (
        lines["other"].split()[1] == "failed"
        and "invalid config: Invalid scalar at path root:n" in lines["other"]
    )
    assert "Traceback" not in ran.stdout + ran.stderr


def test_run_refuses_a_mix_of_one_and_many_in_one_line(make_project, tmp_path):
    project = project_of_four(make_project)
    for args in (
        ("run", "--all", "--config", str(tmp_path / "x.yaml")),
        ("run", "counter", "--config-dir", str(tmp_path)),
        ("run", "--tag", "team-a", "--tasks", "count"),
    ):
        refused = integrations("--project", str(project), *args)
        assert refused.returncode == 1 and refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1 and refused.stderr.startswith("error: ")


def test_invalid_tags_are_a_load_problem_naming_the_entry(make_project):
    good = {"entry": {"tags": ["ok"]}, "files": {"collectors/fetch.py": COUNT, "config.example.yaml": "n: 1"}}
    project = make_project({"good": good, "bad": {"entry": {"tags": ["ok", ""]}}})
    entries = json.loads((project / "integrations.json").read_text())
    entries.append({"name": "worse", "title": "Worse", "tags": "nightly"})
    (project / "integrations.json").write_text(json.dumps(entries))
    validated = integrations("--project", str(project), "validate")
    assert validated.returncode == 1
    assert "bad: integrations.json entry #2 is invalid: 'tags': tag '' is not a non-empty string" in (
        validated.stdout
    )
    assert "worse: integrations.json entry #3 is invalid: 'tags': must be a list of tags, got str" in (
        validated.stdout
    )
    assert not any(line.startswith("good:") for line in validated.stdout.splitlines())
    ran = integrations("--project", str(project), "run", "--all")
    assert ran.returncode == 1
    lines = summary(ran.stdout)
    assert lines["bad"].split()[1] == "failed" and "'tags'" in lines["bad"]
    assert lines["worse"].split()[1] == "failed" and "'tags'" in lines["worse"]
    assert lines["good"].split()[1] == "succeeded"
