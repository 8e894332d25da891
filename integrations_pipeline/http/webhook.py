"""POST a JSON payload to the operators' webhook (``INTEGRATIONS_WEBHOOK_URL``): tickets for
failed runs and alerts on new findings. One attempt under a total deadline; retries are the
deliverer's (``integrations_pipeline/operations/delivery.py``). Never raises: the answer
says what happened."""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

import anyio
import httpx

WEBHOOK_ENV = "INTEGRATIONS_WEBHOOK_URL"
# The whole request: connecting, sending, the status line, headers and body. httpx's own
# timeouts apply to each read, so a receiver trickling a byte every few seconds never hits them.
WEBHOOK_DEADLINE_SECONDS = 10.0
IDEMPOTENCY_HEADER = "Idempotency-Key"
DELIVERED = "delivered"


def post_webhook(
    payload: dict[str, Any],
    url: str | None = None,
    *,
    idempotency_key: str | None = None,
    deadline: float = WEBHOOK_DEADLINE_SECONDS,
) -> str:
    """POST ``payload`` as JSON once, cut off ``deadline`` seconds after it starts.

    ``idempotency_key`` goes in the ``Idempotency-Key`` header, so a receiver can drop a
    payload it got before. Returns ``"delivered (HTTP 200)"`` or what went wrong.
    """
    url = url or os.environ.get(WEBHOOK_ENV)
    if not url:
        return "not configured"
    headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
    try:
        status = anyio.run(_post, url, payload, headers, deadline)
    except TimeoutError:
        return f"no answer within the {deadline:g} s deadline"
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    return f"{DELIVERED} (HTTP {status})" if status < 300 else f"HTTP {status}"


async def _post(url: str, payload: dict[str, Any], headers: dict[str, str], deadline: float) -> int:
    # fail_after cancels whatever the request is waiting on when the deadline passes.
    with anyio.fail_after(deadline):
        async with httpx.AsyncClient(timeout=deadline, verify=_ssl_context()) as client:
            response = await client.post(url, json=payload, headers=headers)
            return response.status_code


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes a while: once per process, not once per post.
    return httpx.create_ssl_context()
