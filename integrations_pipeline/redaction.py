"""Process-wide redaction of secret values in what tasks print or log through ``logging``.

Task results, ``add_log`` and errors are redacted by the session itself; this catches the
rest: ``print()`` in a task (Dagster's compute logs) and library log records (an HTTP
client logging a URL with a key). Secrets are registered when a session opens.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO

from integrations_pipeline.config import MIN_SECRET_LENGTH, redact, secret_forms

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def register_secrets(secrets: Iterable[str]) -> None:
    """Redact ``secrets`` from now on: from task results, logs, errors, stdout and stderr.

    For values an integration obtains while it runs (a temporary token, an assumed role's
    keys); config fields marked secret are registered already. Values shorter than
    ``MIN_SECRET_LENGTH`` are ignored: they would mangle ordinary text.
    """
    secrets = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH]
    if not secrets:
        return
    with _LOCK:
        _SECRETS.update(form for secret in secrets for form in secret_forms(secret))
    _install()


def active_secrets() -> frozenset[str]:
    with _LOCK:
        return frozenset(_SECRETS)


class _RedactingStream:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text, active_secrets()) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = active_secrets()
        if secrets:
            message = record.getMessage()
            redacted = redact(message, secrets)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_FILTER = _RedactingFilter()
LIBRARY_LOGGERS = ("httpx", "httpcore", "urllib3", "botocore", "integrations_pipeline.http")


def _install() -> None:
    with _LOCK:
        if not isinstance(sys.stdout, _RedactingStream):
            sys.stdout = _RedactingStream(sys.stdout)  # type: ignore[assignment]
        if not isinstance(sys.stderr, _RedactingStream):
            sys.stderr = _RedactingStream(sys.stderr)  # type: ignore[assignment]
        for handler in logging.getLogger().handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
        # HTTP clients log request URLs, query strings (API keys) included.
        for name in LIBRARY_LOGGERS:
            library = logging.getLogger(name)
            if _FILTER not in library.filters:
                library.addFilter(_FILTER)
