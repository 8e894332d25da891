"""POST a JSON payload to the operators' webhook (``INTEGRATIONS_WEBHOOK_URL``): tickets for
failed runs and alerts on new findings. Never raises: the answer says what happened."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

WEBHOOK_ENV = "INTEGRATIONS_WEBHOOK_URL"
WEBHOOK_TIMEOUT_SECONDS = 5.0
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF_SECONDS = 0.5


def post_webhook(
    payload: dict[str, Any],
    url: str | None = None,
    *,
    attempts: int = WEBHOOK_ATTEMPTS,
    timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    backoff: float = WEBHOOK_BACKOFF_SECONDS,
) -> str:
    """POST ``payload`` as JSON; retries connection errors, 429 and 5xx with backoff.

    Returns what happened ("delivered (HTTP 200)" or the last error), never raises.
    """
    url = url or os.environ.get(WEBHOOK_ENV)
    if not url:
        return "not configured"
    last = ""
    with httpx.Client(timeout=timeout) as client:
        for attempt in range(attempts):
            try:
                response = client.post(url, json=payload)
                if response.status_code < 300:
                    return f"delivered (HTTP {response.status_code})"
                last = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            if attempt + 1 < attempts:
                time.sleep(backoff * 2**attempt)
    return f"failed after {attempt + 1} attempt(s): {last}"
