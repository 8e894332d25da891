"""One integration's import cannot take the others down: an exit or a hang at import time
becomes that integration's load problem.

Integrations are imported in the process that loads the code location (the code server, a
run worker, a command). While one integration's module is imported:

- ``sys.exit`` (SystemExit) and ``os._exit`` raise instead of ending the process;
- the import has ``INTEGRATIONS_IMPORT_TIMEOUT_SECONDS`` (default 30): past it, a watcher
  thread raises ImportTimeout in the importing thread (CPython's asynchronous exception), which
  stops a Python loop at its next bytecode.

Limits, until each integration has its own code location and process (issue 14): a hang
inside C code that never returns to the interpreter, a crash of the interpreter itself
(a segfault) and threads the integration starts at import (a busy one slows every other
integration in the process) are not contained here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator

IMPORT_TIMEOUT_ENV = "INTEGRATIONS_IMPORT_TIMEOUT_SECONDS"
DEFAULT_IMPORT_TIMEOUT = 30.0
_EXIT_LOCK = threading.Lock()
_guards = 0
_real_exit = os._exit


class ImportTimeout(Exception):
    """An integration's import ran past INTEGRATIONS_IMPORT_TIMEOUT_SECONDS."""


class ImportExit(Exception):
    """An integration called os._exit while being imported."""

    def __init__(self, code: int) -> None:
        super().__init__(f"os._exit({code}) called while importing")
        self.code = code


def import_timeout() -> float:
    try:
        return float(os.environ.get(IMPORT_TIMEOUT_ENV, DEFAULT_IMPORT_TIMEOUT))
    except ValueError:
        return DEFAULT_IMPORT_TIMEOUT


def _refuse_exit(code: int = 0) -> None:
    if getattr(_importing, "active", False):
        raise ImportExit(code)
    _real_exit(code)  # another thread, not importing an integration: as before


_importing = threading.local()


@contextlib.contextmanager
def guarded_import() -> Iterator[None]:
    """Import under the guard (see the module); raises ImportTimeout or ImportExit."""
    global _guards
    target = threading.get_ident()
    state = threading.Lock()
    finished = False
    fired = False

    def watch() -> None:
        nonlocal fired
        if done.wait(import_timeout()):
            return
        with state:
            if finished:
                return
            fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(target), ctypes.py_object(ImportTimeout)
            )

    done = threading.Event()
    watcher = threading.Thread(target=watch, name="integration-import-watch", daemon=True)
    with _EXIT_LOCK:
        _guards += 1
        os._exit = _refuse_exit  # type: ignore[assignment]
    _importing.active = True
    watcher.start()
    try:
        yield
    finally:
        with state:
            finished = True
            if fired:  # raised already, or still pending: never let it land elsewhere
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
        done.set()
        _importing.active = False
        with _EXIT_LOCK:
            _guards -= 1
            if not _guards:
                os._exit = _real_exit
