"""Schemas found valid are remembered; a broken one is checked and reported every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations_pipeline.catalog import validity_cache
from integrations_pipeline.catalog.config import schema_problem

VALID = {"type": "object", "properties": {"api_key": {"type": "string"}}}
BROKEN = {"type": "object", "properties": {"api_key": {"type": 12}}}


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validity_cache, "_KNOWN", {})


def test_a_valid_schema_is_remembered_across_processes(clean_environment: Path):
    assert schema_problem(VALID) is None
    stored = clean_environment / "integrations-home" / "cache" / validity_cache.FILE_NAME
    assert validity_cache.digest("schema", VALID) in stored.read_text()
    validity_cache._KNOWN.clear()  # as a new process would start
    assert validity_cache.is_known_valid(validity_cache.digest("schema", VALID))


def test_a_broken_schema_is_never_remembered():
    for _ in range(2):
        assert "at properties/api_key/type" in (schema_problem(BROKEN) or "")
    assert not validity_cache.is_known_valid(validity_cache.digest("schema", BROKEN))


def test_a_changed_schema_is_checked_again():
    assert schema_problem(VALID) is None
    changed = {**VALID, "required": 5}
    assert schema_problem(changed) is not None


def test_a_cache_folder_that_is_a_file_is_skipped(clean_environment: Path):
    home = clean_environment / "integrations-home"
    home.mkdir(parents=True)
    (home / "cache").write_text("not a folder")
    assert schema_problem(VALID) is None
    assert schema_problem(BROKEN) is not None
