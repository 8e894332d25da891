"""What a finding is, apart from where it is stored: its identity, severities, what an
evaluation reports and what it changed. No database here: steps import this at load."""

from __future__ import annotations

import enum
import hashlib
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Literal

EvaluationStatus = Literal["passed", "violation", "error", "skipped"]
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
PREVIEW_FINDINGS = 10
# What a finding's data may be: JSON both databases store alike (see docs/findings.md).
MAX_DATA_DEPTH = 64
MAX_INTEGER_BITS = 13_000  # about 3,900 digits, below Python's 4,300-digit conversion limit
# PostgreSQL text cannot hold NUL; SQLite can. Both store U+FFFD in its place.
NUL_REPLACEMENT = "\ufffd"
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


class FindingDataError(ValueError):
    """A finding's data holds what JSON cannot: ``field`` says where (``data.a.0``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        shown = field if len(field) <= 100 else f"{field[:60]}…{field[-30:]}"
        super().__init__(f"{shown} {reason}")


def finding_uid(integration: str, deployment: str | None, task: str, resource: str | None = None) -> str:
    """Stable identity of a finding; without a resource it is the insight's own finding."""
    parts = [integration, deployment or "", task]
    if resource is not None:
        parts.append(resource)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class ReportedFinding:
    """One finding an evaluation reported."""

    resource: str | None
    severity: str
    message: str | None = None
    data: Any = None


@dataclass
class EvaluationSummary:
    status: EvaluationStatus
    open: int = 0
    new: int = 0
    resolved: int = 0
    muted: int = 0
    reopened: int = 0
    opened: list[str] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)


def storable_text(value: str) -> str:
    """``value`` as both databases store it: NUL and unpaired surrogates replaced."""
    if "\x00" in value:
        value = value.replace("\x00", NUL_REPLACEMENT)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def json_safe(value: Any, field: str = "data", depth: int = 0) -> Any:
    """``value`` as JSON that SQLite and PostgreSQL both store, or FindingDataError.

    Datetimes, dates and times become ISO text; sets and tuples lists (sets sorted); UUIDs,
    decimals and paths text; enums their value; NaN and infinities the text JSON gives them
    in JavaScript. Text is :func:`storable_text`. Anything else (bytes, objects), mappings
    nested deeper than :data:`MAX_DATA_DEPTH` and integers of thousands of digits are refused.
    """
    if depth > MAX_DATA_DEPTH:
        raise FindingDataError(field, f"is nested deeper than {MAX_DATA_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value, field, depth)
    if isinstance(value, int):
        if value.bit_length() > MAX_INTEGER_BITS:
            raise FindingDataError(field, f"is an integer of {value.bit_length()} bits, too large to store")
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[repr(value)]
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal | PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {_json_key(k, field): json_safe(v, f"{field}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, f"{field}.{i}", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [json_safe(v, f"{field}.<item>", depth + 1) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    raise FindingDataError(
        field,
        f"is {type(value).__name__}, which JSON cannot hold: make it text, a number, a list or a mapping",
    )


def _json_key(key: Any, field: str) -> str:
    if isinstance(key, str):
        return storable_text(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # as json.dumps writes such keys: "1", "true", "null"
    raise FindingDataError(f"{field}", f"has a key of type {type(key).__name__}: keys must be text")


def storable_finding(finding: ReportedFinding) -> ReportedFinding:
    """``finding`` with text and data as both databases store them (:func:`json_safe`)."""
    return replace(
        finding,
        resource=None if finding.resource is None else storable_text(finding.resource),
        message=None if finding.message is None else storable_text(finding.message),
        data=json_safe(finding.data),
    )


def merge_reported(reported: Sequence[ReportedFinding]) -> list[ReportedFinding]:
    """One finding per resource: a resource reported twice keeps its worst severity."""
    merged: dict[str | None, ReportedFinding] = {}
    for finding in reported:
        current = merged.get(finding.resource)
        if current is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[current.severity]:
            merged[finding.resource] = finding
    return list(merged.values())


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(threshold, 2)
