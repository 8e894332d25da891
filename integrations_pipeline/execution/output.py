"""The run process's stdout and stderr redacted at the file-descriptor level while a task runs.

``sys.stdout`` and ``sys.stderr`` are redacted in Python (:mod:`..common.redaction`); what
bypasses them does not: ``os.write(1, ...)``, C extensions, and subprocesses, which inherit
file descriptors 1 and 2. While a task runs, each of them is a pipe: a reader thread reads
it, redacts it line by line (a line is held until it ends, up to ``MAX_LINE`` bytes) and
writes it to what the descriptor was before, which is where Dagster's compute-log capture
(or pytest's ``capfd``) sends it.

The redirection sits inside Dagster's own for the step (both swap descriptors): it starts
after Dagster's capture started and ends before Dagster's ends, so each restores what it
found. Concurrent tasks in one process share one redirection (counted). What a task's
abandoned thread, or a subprocess it left running, writes after the task ends is no longer
redacted here: the descriptor is the original again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

from integrations_pipeline.common.redaction import active_secrets, redact

MAX_LINE = 64 * 1024
# How long the end of a task waits for a reader to pass on what is left in its pipe.
DRAIN_SECONDS = 2.0

_LOCK = threading.Lock()
_USERS = 0
_REDIRECTS: list[_Redirect] = []


class _Redirect:
    """File descriptor ``fd`` turned into a pipe whose reader redacts into the original."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved = os.dup(fd)  # to put back
        out = os.dup(fd)  # the reader's own, closed by it
        read, write = os.pipe()
        os.dup2(write, fd)
        os.close(write)
        self.reader = threading.Thread(target=_forward, args=(read, out), name=f"redact-fd-{fd}", daemon=True)
        self.reader.start()

    def restore(self) -> None:
        os.dup2(self.saved, self.fd)  # closes the pipe's last write end, unless a child has one
        os.close(self.saved)
        self.reader.join(DRAIN_SECONDS)


def _forward(read: int, out: int) -> None:
    # Reads until every write end is closed, whatever happens to ``out``: a pipe nobody
    # reads would block the writers (the task, Dagster's own logging).
    pending = b""
    try:
        while chunk := os.read(read, 65536):
            pending += chunk
            head, newline, pending = pending.rpartition(b"\n")
            if len(pending) > MAX_LINE:
                head, newline, pending = head + newline + pending, b"", b""
            if head or newline:
                out = _write(out, head + newline)
        out = _write(out, pending)
    finally:
        os.close(read)
        if out >= 0:
            os.close(out)


def _write(fd: int, data: bytes) -> int:
    """Write ``data`` redacted to ``fd``; -1 (and ``fd`` closed) once ``fd`` fails."""
    if fd < 0 or not data:
        return fd
    try:
        secrets = active_secrets()
        if secrets:
            data = redact(data.decode("utf-8", "surrogateescape"), secrets).encode("utf-8", "surrogateescape")
        while data:
            data = data[os.write(fd, data) :]
    except (OSError, ValueError):  # the original went away: what follows is dropped, not leaked
        os.close(fd)
        return -1
    return fd


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """While this is open, what this process writes to fds 1 and 2 is redacted."""
    global _USERS
    with _LOCK:
        if _USERS == 0:
            _flush()
            try:
                _REDIRECTS.extend(_Redirect(fd) for fd in (1, 2))
            except OSError:  # no such descriptor (a daemonized process): nothing to redact
                _restore()
        _USERS += 1
    try:
        yield
    finally:
        with _LOCK:
            _USERS -= 1
            if _USERS == 0:
                _flush()
                _restore()


def _restore() -> None:
    while _REDIRECTS:
        _REDIRECTS.pop().restore()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
