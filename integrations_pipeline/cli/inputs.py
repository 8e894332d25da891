"""What commands read: YAML or JSON files, and moments (ISO times or durations like 7d)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integrations_pipeline.common.errors import IntegrationError


def read_yaml(path: Path, integration: str | None = None, what: str = "") -> Any:
    """The data in a YAML (or JSON) file; an unreadable file is a one-line error naming it."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise IntegrationError(f"cannot read {what}{path}: {reason}", integration=integration) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        # The problem and where, without yaml's quote of the line: it may hold a secret.
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or type(error).__name__
        raise IntegrationError(
            f"{what}{path} is not valid YAML: {reason}{where}", integration=integration
        ) from None
    except RecursionError:
        raise IntegrationError(
            f"{what}{path} is nested too deeply to read", integration=integration
        ) from None


def read_mapping(path: Path, integration: str | None = None) -> dict[str, Any]:
    data = read_yaml(path, integration, "config file ") or {}
    if not isinstance(data, dict):
        raise IntegrationError(f"config file {path} must hold a mapping", integration=integration)
    return data


def load_config_file(path: Path, name: str) -> dict[str, Any]:
    """An integration's config from a JSON/YAML file: bare, or as Dagster run config."""
    data = read_mapping(path, name)
    if "resources" in data:
        data = ((data.get("resources") or {}).get(name) or {}).get("config") or {}
    return data


def _parse_moment(value: str, direction: int) -> datetime:
    """An ISO date/time, or a duration such as ``7d``, ``12h``, ``30m`` from now in ``direction``."""
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return datetime.now(UTC) + direction * timedelta(**{unit: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO date/time nor a duration like 7d"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def past_moment(value: str) -> datetime:
    """``--since``: an ISO date/time, or a duration back from now."""
    return _parse_moment(value, -1)


def future_moment(value: str) -> datetime:
    """``--expires``: an ISO date/time, or a duration ahead of now."""
    return _parse_moment(value, +1)
