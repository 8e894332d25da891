"""The HTTP toolkit's log lines (retries, backoffs) in the log of the task that sent the request.

The toolkit logs to the ``integrations_pipeline.http`` logger and knows nothing of tasks. A
handler on that logger hands each record made while a task runs, in the task's own context
(its thread, the asyncio tasks and ``asyncio.to_thread`` calls it starts), to that task's
log, and with it to Dagster's event log for the step. Concurrent tasks each get their own
lines. A record made anywhere else goes where it went before the handler was there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar

TOOLKIT_LOGGER = "integrations_pipeline.http"

_TASK_LOG: ContextVar[Callable[[str], None] | None] = ContextVar("integrations_task_log", default=None)
_LOCK = threading.Lock()


def send_toolkit_lines_to(log: Callable[[str], None]) -> None:
    """From now on in this context, the toolkit's log lines go to ``log`` (a task's log)."""
    _install()
    _TASK_LOG.set(log)


class _ToTaskLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log = _TASK_LOG.get()
        if log is not None:
            log(f"http: {record.getMessage()}")
            return
        # Python prints a warning nobody handles to stderr (its "last resort"); outside a
        # task this handler must not change that.
        last_resort = logging.lastResort
        if last_resort is not None and record.levelno >= last_resort.level and not _other_handlers(record):
            last_resort.handle(record)


_HANDLER = _ToTaskLog()


def _other_handlers(record: logging.LogRecord) -> bool:
    """Whether a handler other than this one sees ``record`` (as ``Logger.callHandlers`` walks)."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(handler is not _HANDLER for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def _install() -> None:
    logger = logging.getLogger(TOOLKIT_LOGGER)
    with _LOCK:
        if _HANDLER not in logger.handlers:
            logger.addHandler(_HANDLER)
