"""What a finding is, apart from where it is stored: its identity, severities, what an
evaluation reports and what it changed. No database here: steps import this at load."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

EvaluationStatus = Literal["passed", "violation", "error", "skipped"]
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
PREVIEW_FINDINGS = 10


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
