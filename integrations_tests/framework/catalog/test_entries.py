"""integrations.json entries: their tags."""

from __future__ import annotations

import pytest

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.catalog.entries import LoadProblem, parse_entry
from integrations_tests.conftest import PROJECT


def test_tags_are_a_tuple_and_default_to_none():
    problems: list[LoadProblem] = []
    tagged = parse_entry(0, {"name": "demo", "title": "Demo", "tags": ["cloud", "team.a-1"]}, problems)
    untagged = parse_entry(1, {"name": "plain", "title": "Plain"}, problems)
    assert not problems
    assert tagged is not None and tagged.tags == ("cloud", "team.a-1")
    assert untagged is not None and untagged.tags == ()


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ("cloud", "must be a list of tags, got str"),
        (None, "must be a list of tags, got NoneType"),
        (["cloud", ""], "tag '' is not a non-empty string"),
        (["cloud", 3], "tag 3 is not a non-empty string"),
        (["two words"], "tag 'two words' may hold only letters, digits, '_', '.' and '-'"),
        (["x" * 64], "(at most 63 characters)"),
        (["cloud", "db", "cloud"], "tag(s) listed twice: cloud"),
    ],
)
def test_bad_tags_are_a_problem_naming_the_entry(tags, why):
    problems: list[LoadProblem] = []
    assert parse_entry(2, {"name": "demo", "title": "Demo", "tags": tags}, problems) is None
    [problem] = problems
    assert problem.integration == "demo"
    assert problem.message.startswith("integrations.json entry #3 is invalid: 'tags': ")
    assert why in problem.message


def test_the_shipped_integrations_are_tagged():
    entries = load_catalog(PROJECT, only=()).entries
    assert all(entry.tags for entry in entries)
    assert {entry.name: entry.tags for entry in entries}["hello_world"] == ("example",)
