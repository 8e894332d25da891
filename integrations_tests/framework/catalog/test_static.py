"""Reading integrations from their source gives what importing them gives, or imports them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from integrations_pipeline.authoring.runner import BaseRunner
from integrations_pipeline.authoring.tasks import REGISTRY
from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.catalog.static import read_integration
from integrations_pipeline.cli.catalog import _listing
from integrations_tests.conftest import PROJECT, case


def _unload() -> None:
    REGISTRY.reset()
    for module in [
        m for m in sys.modules if m.startswith(("integrations.", "integrations_tests.framework.cases."))
    ]:
        del sys.modules[module]


@pytest.mark.parametrize("project", [PROJECT, case("guide")], ids=["this project", "guide"])
def test_reading_the_source_lists_what_importing_lists(project: Path):
    static = load_catalog(project, include_disabled=True, loader=read_integration)
    assert all(i.runner_cls is BaseRunner for i in static.integrations.values())  # nothing imported
    assert not [m for m in sys.modules if m.startswith("integrations.")]
    _unload()
    imported = load_catalog(project, include_disabled=True)
    assert _listing(static) == _listing(imported)
    assert static.problems == imported.problems


def test_a_syntax_error_or_a_bad_decorator_is_a_load_problem_of_its_integration():
    catalog = load_catalog(case("broken"), include_disabled=True, loader=read_integration)
    problems = {p.integration: p.message for p in catalog.problems}
    assert problems["syntax_error"].startswith("cannot import collect.py: SyntaxError")
    assert "severity is for insights only" in problems["bad_decorator"]
    assert "good_one" in catalog.integrations


def test_what_cannot_be_read_is_imported(make_project):
    source = (
        "from integrations_pipeline.sdk import task\n\nSEVERITY = None\n\n\n"
        "@task(name='collect', severity=SEVERITY)\n"
        "def collect(self, ctx):\n    return {'data': []}\n"
    )
    project = make_project({"computed": {"files": {"collectors/collect.py": source}}})
    catalog = load_catalog(project, loader=read_integration)
    integration = catalog.integrations["computed"]
    assert integration.runner_cls is not BaseRunner  # imported: the argument is a name, not a literal
    assert list(integration.tasks) == ["collect"]
