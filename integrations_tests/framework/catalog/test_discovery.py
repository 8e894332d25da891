"""Discovery: one broken integration never takes the others down, and says what is wrong."""

import subprocess
import sys

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.orchestration.build import build_definitions
from integrations_tests.conftest import PROJECT, case

EXPECTED_PROBLEMS = {
    "syntax_error": "cannot import collect.py: SyntaxError",
    "import_error": (
        "cannot import entry.py: ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"
    ),
    "bad_decorator": "severity is for insights only",
    "duplicate_task": "duplicate task name",
    "name_mismatch": "Runner.name is 'someone_else' but the folder and integrations.json say 'name_mismatch'",
    "bad_schema": "invalid JSON Schema in integrations.json at properties/x/type",
    "Bad-Name": "entry #8 is invalid: 'name': String should match pattern",
    "missing_folder": "no folder",
    "orphan": "has no entry in integrations.json",
}


def test_broken_integrations_are_reported_and_the_good_one_loads():
    catalog = load_catalog(case("broken"))
    assert list(catalog.integrations) == ["good_one"]
    for name, expected in EXPECTED_PROBLEMS.items():
        messages = [p.message for p in catalog.problems_of(name)]
        assert any(expected in m for m in messages), (name, messages)
    no_title = [p for p in catalog.problems if "entry #9" in p.message]
    assert no_title and "'title': Field required" in no_title[0].message
    bad_decorator = catalog.problems_of("bad_decorator")[0]
    assert "task 'collect'" in bad_decorator.message and "collect.py" in bad_decorator.message


def test_broken_integrations_still_compile_to_a_loadable_code_location():
    defs = build_definitions(load_catalog(case("broken")))
    repo = defs.get_repository_def()
    job_names = {job.name for job in repo.get_all_jobs()}
    assert "good_one" in job_names
    # A broken integration keeps a job that fails with its load error, so a deployment
    # of it fails loudly instead of silently never running.
    broken = defs.resolve_job_def("syntax_error")
    assert broken.description.startswith("BROKEN: cannot import collect.py: SyntaxError")
    result = broken.execute_in_process(raise_on_error=False)
    assert not result.success
    good = defs.resolve_job_def("good_one").execute_in_process(raise_on_error=False)
    assert good.success


def test_a_broken_json_file_is_one_problem_not_a_crash(tmp_path):
    (tmp_path / "integrations.json").write_text("[{not json")
    catalog = load_catalog(tmp_path)
    assert catalog.integrations == {}
    assert "is not valid JSON" in str(catalog.problems[0])
    build_definitions(catalog).get_repository_def()


def test_disabled_integration_is_not_imported(tmp_path):
    (tmp_path / "integrations.json").write_text('[{"name": "off", "title": "Off", "enabled": false}]')
    folder = tmp_path / "integrations" / "off"
    folder.mkdir(parents=True)
    (folder / "entry.py").write_text("raise RuntimeError('must not be imported')\n")
    catalog = load_catalog(tmp_path)
    assert [e.name for e in catalog.entries] == ["off"]
    assert catalog.integrations == {} and catalog.problems == []


def test_code_location_loads_with_dagster_module_flag():
    """`-m integrations_pipeline` finds the lazily built Definitions."""
    probe = (
        "from dagster._core.workspace.autodiscovery import loadable_targets_from_python_module as f;"
        "targets = f('integrations_pipeline', None);"
        "print([t.attribute for t in targets])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert "['defs']" in out.stdout


def test_importing_the_sdk_does_not_build_definitions():
    probe = "import sys, integrations_pipeline.sdk;print('integrations_pipeline.definitions' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
