"""What the clients do between attempts and around them: retries with backoff and jitter, the
wait a server asks for, a client-side rate limit, and the response cache."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter on connection errors, 429 and 5xx; honours Retry-After."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        return random.uniform(0, ceiling) if self.jitter else ceiling


def retry_after_seconds(response: httpx.Response) -> float | None:
    """How long the server asks us to wait: ``Retry-After``, else an exhausted rate limit's reset.

    The reset is ``X-RateLimit-Reset`` (epoch seconds) when ``X-RateLimit-Remaining`` is 0, as
    GitHub and others send it, with a 403 or a 429 only.
    """
    value = response.headers.get("Retry-After")
    if not value:
        if response.status_code in (403, 429) and response.headers.get("X-RateLimit-Remaining") == "0":
            try:
                reset = float(response.headers["X-RateLimit-Reset"])
            except (KeyError, ValueError):
                return None
            # Epoch seconds (GitHub); some APIs send seconds from now instead.
            return max(0.0, reset - time.time()) if reset > 1e9 else max(0.0, reset)
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class RateLimiter:
    """At most ``per_second`` requests a second (evenly spaced), across threads."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now

    def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)

    async def wait_async(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


CacheKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class ResponseCache:
    """GET responses kept for ``ttl`` seconds (seed 003's cache), keyed by URL and params."""

    ttl: float
    _entries: dict[CacheKey, tuple[float, httpx.Response]] = field(default_factory=dict)
    hits: int = 0

    def key(self, url: str, params: Mapping[str, Any]) -> CacheKey:
        return url, tuple(sorted((str(k), str(v)) for k, v in params.items()))

    def get(self, key: CacheKey) -> httpx.Response | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        self.hits += 1
        return entry[1]

    def put(self, key: CacheKey, response: httpx.Response) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, response)
