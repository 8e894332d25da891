"""integrations.json: its entries, validated (name, title, tags, config JSON Schema, default
schedule), and the problems found in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from integrations_pipeline.catalog.config import check_stored_config, schema_problem
from integrations_pipeline.common.errors import IntegrationConfigError

# Letters, digits and single underscores: op names join integration and task with "__".
INTEGRATION_NAME_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
# Tags become Dagster job tags: what Dagster accepts as a tag key and as a tag value.
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


class DefaultSchedule(BaseModel):
    """An entry's default schedule: a plain Dagster schedule for single-tenant setups."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str
    timezone: str = "UTC"
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class IntegrationEntry(BaseModel):
    """One entry of integrations.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=INTEGRATION_NAME_PATTERN, max_length=64)
    title: str = Field(max_length=256)  # the lengths of integration records' columns
    description: str = ""
    enabled: bool = True
    version: str | None = Field(default=None, max_length=64)
    tags: tuple[str, ...] = ()
    schedule: DefaultSchedule | None = None
    config_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_are_names(cls, value: Any) -> tuple[str, ...]:
        """A list of distinct tags, each letters, digits, ``_``, ``.`` or ``-`` (at most 63)."""
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list of tags, got {type(value).__name__}")
        for tag in value:
            if not isinstance(tag, str) or not tag:
                raise ValueError(f"tag {tag!r} is not a non-empty string")
            if not TAG_PATTERN.match(tag):
                raise ValueError(
                    f"tag {tag!r} may hold only letters, digits, '_', '.' and '-' (at most 63 characters)"
                )
        duplicates = sorted({tag for tag in value if value.count(tag) > 1})
        if duplicates:
            raise ValueError(f"tag(s) listed twice: {', '.join(duplicates)}")
        return tuple(value)


@dataclass(frozen=True)
class LoadProblem:
    """Something wrong with one integration (or with integrations.json itself)."""

    integration: str | None
    message: str
    detail: str | None = None

    def __str__(self) -> str:
        return f"{self.integration}: {self.message}" if self.integration else self.message


def read_entries(path: Path, problems: list[LoadProblem]) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(LoadProblem(None, f"{path} not found"))
        return []
    except (OSError, ValueError) as error:
        problems.append(LoadProblem(None, f"{path} is not valid JSON: {error}"))
        return []
    if not isinstance(data, list):
        problems.append(LoadProblem(None, f"{path} must hold a JSON array of integrations"))
        return []
    return data


def parse_entry(index: int, raw: Any, problems: list[LoadProblem]) -> IntegrationEntry | None:
    name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
    try:
        entry = IntegrationEntry.model_validate(raw)
    except ValidationError as error:
        # A validator's ValueError reads "Value error, <why>": the why is enough.
        messages = [(item["loc"], item["msg"].removeprefix("Value error, ")) for item in error.errors()]
        reasons = "; ".join(
            f"'{'.'.join(str(p) for p in loc)}': {message}" if loc else message for loc, message in messages
        )
        problems.append(LoadProblem(name, f"integrations.json entry #{index + 1} is invalid: {reasons}"))
        return None
    invalid = schema_problem(entry.config_schema)
    if invalid:
        problems.append(LoadProblem(entry.name, f"invalid JSON Schema in integrations.json {invalid}"))
        return None
    if entry.schedule is not None:
        try:
            check_stored_config(entry.name, entry.config_schema, entry.schedule.config)
        except IntegrationConfigError as error:
            problems.append(LoadProblem(entry.name, f"default schedule: {error.detail()}"))
            return None
    if entry.config_schema.get("type", "object") != "object":
        problems.append(
            LoadProblem(entry.name, "the config JSON Schema must describe an object (type: object)")
        )
        return None
    return entry
