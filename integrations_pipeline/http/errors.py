"""The toolkit's errors: a request that failed for good, and a response body over the cap."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping

import httpx

MAX_ERROR_BODY = 4_000


class HttpError(Exception):
    """A request failed for good; the message names the method, URL and status, secrets hidden.

    Attributes:
        status_code: The last response's status (None after a connection error).
        body: The start of its body (``MAX_ERROR_BODY`` characters), secrets hidden.
        headers: Its headers, secrets hidden.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers or {})

    @property
    def api_message(self) -> str | None:
        """The ``message`` (or ``error``, ``detail``) a JSON error body gives, if any."""
        return api_message(self.body)


class ResponseTooLarge(HttpError):
    """A response's body is larger than the client's ``max_response_bytes``: it was not read
    (a Content-Length over the cap) or not read further (a body that went past it). Never
    retried. ``status_code`` and ``headers`` are the response's; ``body`` is None."""


def response_text(response: httpx.Response) -> str:
    try:
        return response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, LookupError):
        return ""


def api_message(body: str | None) -> str | None:
    if not body or not body.lstrip().startswith("{"):
        return None
    try:
        parsed = jsonlib.loads(body)
    except ValueError:
        return None
    for key in ("message", "error", "detail", "error_description"):
        value = parsed.get(key) if isinstance(parsed, dict) else None
        if isinstance(value, str) and value:
            return value
    return None
