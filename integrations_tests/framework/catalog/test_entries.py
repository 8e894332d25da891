"""integrations.json entries: their tags and the lengths their records hold."""

from __future__ import annotations

import json

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


def test_a_title_or_version_longer_than_its_column_is_the_entrys_load_problem(tmp_path):
    entries = [
        {"name": "long_title", "title": "t" * 257},
        {"name": "long_version", "title": "Fine", "version": "1." * 40},
    ]
    (tmp_path / "integrations.json").write_text(json.dumps(entries))
    messages = [str(problem) for problem in load_catalog(tmp_path).problems]
    assert any("entry #1" in m and "'title'" in m and "256" in m for m in messages), messages
    assert any("entry #2" in m and "'version'" in m and "64" in m for m in messages), messages
