"""A user's mistake as one line: a bad config, an unknown integration, an unreadable file.

The framework raises :class:`IntegrationError` for those; Dagster raises its own config
error, or wraps ours in its user-code errors. Anything else is a bug, and its traceback is
what the reader needs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from integrations_pipeline.common.errors import IntegrationError
from integrations_pipeline.common.redaction import active_secrets, redact


def user_error(error: BaseException, integration: str | None = None) -> str | None:
    """``error`` as one line when it is a user's mistake, else None.

    Secrets this process registered are redacted.

    Args:
        error: What a command raised.
        integration: Leave out this integration's name (a line that names it already).
    """
    for cause in _causes(error):
        if isinstance(cause, IntegrationError):
            same = integration is not None and cause.integration == integration
            return one_line(cause.detail() if same else str(cause))
        config_error = _dagster_config_error(cause)
        if config_error is not None:
            return one_line(config_error)
    return None


def one_line(text: str) -> str:
    """``text`` on one line, without the secrets this process registered."""
    return redact("; ".join(line.strip() for line in text.splitlines() if line.strip()), active_secrets())


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, the user code error Dagster wrapped in it, what it was raised from, and so on."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "user_exception", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__


def _dagster_config_error(error: BaseException) -> str | None:
    # Dagster is imported by the commands that run something; --help must not import it.
    errors = sys.modules.get("dagster._core.errors")
    if errors is None or not isinstance(error, errors.DagsterInvalidConfigError):
        return None
    preamble = str(error).splitlines()[0] if str(error) else "invalid config"
    return f"{preamble}: {'; '.join(error.error_messages)}"
