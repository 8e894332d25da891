"""Return formats of collectors and insights (the authoring guide's tables), validated."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from integrations_pipeline.authoring.tasks import Severity, TaskDef
from integrations_pipeline.common.errors import TaskResultError


class CollectorResult(BaseModel):
    """``{"data": dict | list, "message": str}``; data is required."""

    model_config = ConfigDict(extra="ignore")

    data: dict[str, Any] | list[Any]
    message: str | None = None


class ResourceViolation(BaseModel):
    """One finding about one resource: ``{"resource": id, "message", "data", "severity"}``."""

    model_config = ConfigDict(extra="ignore")

    resource: str = Field(min_length=1, max_length=512)
    message: str | None = None
    data: Any = None
    severity: Severity | None = None


class InsightResult(CollectorResult):
    """``{"data": ..., "violation": bool = False, "violations": [...], "message": str}``."""

    violation: StrictBool = False
    violations: list[ResourceViolation] | None = None

    @property
    def found(self) -> bool:
        return self.violation or bool(self.violations)


def validate_result(task_def: TaskDef, value: object) -> CollectorResult:
    """Check a task's return value against its return format; the error names the task."""
    model = InsightResult if task_def.is_insight else CollectorResult
    if not isinstance(value, dict):
        raise TaskResultError(
            f"returned {type(value).__name__}, expected a dict like {_shape(task_def)}",
            integration=task_def.integration,
            task=task_def.name,
        )
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = "; ".join(
            f"'{'.'.join(str(p) for p in item['loc'])}': {item['msg']}" if item["loc"] else item["msg"]
            for item in error.errors()
        )
        raise TaskResultError(
            f"returned a malformed result ({problems}); expected {_shape(task_def)}",
            integration=task_def.integration,
            task=task_def.name,
        ) from None


def _shape(task_def: TaskDef) -> str:
    if task_def.is_insight:
        return '{"data": dict|list, "violation": bool, "message": str}'
    return '{"data": dict|list, "message": str}'
