"""User code under a time limit: a task or a StageOne, run in a daemon thread.

A call that returns a coroutine (an ``async def`` task or StageOne) is awaited in that
thread, in an event loop of its own. At the limit the caller goes on without it: a coroutine
is cancelled, which ends it at its next ``await``; anything else (or a coroutine that blocks
without awaiting) keeps its thread until the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

POLL_SECONDS = 0.05
# How long a cancelled coroutine gets to end before it is reported abandoned.
CANCEL_GRACE_SECONDS = 2.0


@dataclass
class Limited:
    """What became of a call: its value or error, or that it ran out of time."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    # When timed out: whether it was a coroutine that ended once cancelled.
    cancelled: bool = False


def call_limited(
    call: Callable[[], Any],
    limit: float,
    *,
    name: str,
    poll: Callable[[], None] = lambda: None,
) -> Limited:
    """Run ``call()`` (and await what it returns, if awaitable) for at most ``limit`` seconds.

    ``poll`` is called in the caller's thread every ``POLL_SECONDS`` while it runs, and once
    after it ends (to pass on what the call logged). Errors are returned, not raised.
    """
    done = Limited()
    awaiting = _Awaiting()

    def target() -> None:
        try:
            value = call()
            if inspect.isawaitable(value):
                value = awaiting.run(value)
            done.value = value
        except BaseException as error:  # the caller reports it, naming the task
            done.error = error

    deadline = time.monotonic() + limit
    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        poll()
        if worker.is_alive() and time.monotonic() >= deadline:
            cancelled = False
            if awaiting.cancel():
                worker.join(CANCEL_GRACE_SECONDS)
                cancelled = not worker.is_alive()
            poll()
            return Limited(timed_out=True, cancelled=cancelled)
    poll()
    return done


class _Awaiting:
    """The event loop and task awaiting a call's coroutine, so another thread can cancel it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._started = False
        self._cancelled = False

    def run(self, awaitable: Awaitable[Any]) -> Any:
        async def main() -> Any:
            with self._lock:
                self._loop = asyncio.get_running_loop()
                self._task = asyncio.current_task()
                if self._cancelled and self._task is not None:
                    self._task.cancel()  # the limit passed before the loop started
            return await awaitable

        with self._lock:
            self._started = True
        return asyncio.run(main())

    def cancel(self) -> bool:
        """Cancel the coroutine; False when the call is not awaiting one."""
        with self._lock:
            self._cancelled = True
            loop, task, started = self._loop, self._task, self._started
        if loop is not None and task is not None:
            # RuntimeError: the loop closed meanwhile, so the coroutine is done.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        return started
