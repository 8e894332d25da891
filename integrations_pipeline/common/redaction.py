"""Secret values kept out of everything a run shows: ``redact`` for text, ``redact_value`` for
results of any type, ``redact_lines`` for lines a secret may be split over, and the
process-wide redaction of ``sys.stdout``, ``sys.stderr`` (by the line) and every log record.

Task results, ``add_log`` and errors are redacted by the session itself; this catches the
rest: ``print()`` in a task (Dagster's compute logs) and log records of any logger (an HTTP
client logging a URL with a key). A secret is redacted in every form it takes in text
(``secret_forms``). Secrets are registered when a session opens. Output that bypasses
``sys.stdout`` (``os.write``, subprocesses) is redacted by ``execution/output.py``.
"""

from __future__ import annotations

import functools
import json
import logging
import pickle
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TextIO, TypeVar
from urllib.parse import quote, quote_plus

REDACTED = "***"

T = TypeVar("T")


# Shorter secrets would redact ordinary words; no real credential is this short.
MIN_SECRET_LENGTH = 4


# Characters a query keeps as they are when a URL is given whole (RFC 3986), as httpx keeps them.
_QUERY_SAFE = "!$&'()*+,;=:@/?~"


def secret_forms(secret: str) -> set[str]:
    """Every form ``secret`` takes in text: as it is; escaped inside a quoted string, as
    ``repr()`` (an exception's message, ``str(dict)``) and ``json.dumps`` write it, once or
    twice (a repr inside a repr); and each of those percent-encoded, as log lines show URLs (a
    key with ``/``, ``+`` or ``=``). For most secrets this is the secret alone."""
    return set(_forms(secret))


@functools.lru_cache(maxsize=1024)
def _forms(secret: str) -> frozenset[str]:
    quoted = {secret} | _escapes(secret)
    quoted |= {twice for once in quoted for twice in _escapes(once)}
    return frozenset(
        form
        for text in quoted
        for form in (text, quote_plus(text), quote(text, safe=""), quote(text, safe=_QUERY_SAFE))
    )


def _escapes(text: str) -> set[str]:
    """``text`` as it shows between the quotes of a Python or JSON string literal.

    ``repr()`` escapes ``\\`` and non-printable characters, and ``'`` only when the whole
    string holds both quotes, which depends on the text around the secret: both are kept.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    return {
        "".join("\\'" if c == "'" else repr(c)[1:-1] for c in text),
        "".join(repr(c)[1:-1] for c in text),
        "".join("\\'" if b == 0x27 else repr(bytes([b]))[2:-1] for b in encoded),
        "".join(repr(bytes([b]))[2:-1] for b in encoded),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in ``text`` by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_lines(lines: Sequence[str], secrets: Iterable[str]) -> list[str]:
    """``redact`` applied to consecutive lines read as one text: a secret split by a line
    break, inside a line or between two of them, is redacted in each part."""
    pieces = [(form.replace("\r", "").replace("\n", ""), form) for form in secrets if form]
    joined = "".join(line.replace("\r", "").replace("\n", "") for line in lines)
    if not any(piece and piece in joined for piece, _ in pieces):
        return list(lines)
    # Where each character of the joined text came from: (line, index in that line).
    origin = [(n, i) for n, line in enumerate(lines) for i, c in enumerate(line) if c not in "\r\n"]
    hidden = [bytearray(len(line)) for line in lines]
    for piece, _ in pieces:
        start = joined.find(piece) if piece else -1
        while start >= 0:
            for n, i in origin[start : start + len(piece)]:
                hidden[n][i] = 1
            start = joined.find(piece, start + 1)
    return [_hide(line, marks) for line, marks in zip(lines, hidden, strict=True)]


def _hide(line: str, marks: bytearray) -> str:
    """``line`` with each run of marked characters replaced by ``***``."""
    if not any(marks):
        return line
    out: list[str] = []
    for i, c in enumerate(line):
        if not marks[i]:
            out.append(c)
        elif i == 0 or not marks[i - 1]:
            out.append(REDACTED)
    return "".join(out)


class LineRedactor(Generic[T]):
    """Lines redacted with their neighbours, so that a secret written in two pieces (two
    ``add_log`` calls) is redacted in both: each line is let out when the next one comes, or
    on :meth:`flush`. Each line carries a tag (what kind of line it is)."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        self._secrets = secrets
        self._before: str = ""  # the line let out last, as it was written
        self._pending: tuple[T, str] | None = None

    def push(self, tag: T, line: str) -> list[tuple[T, str]]:
        ready = self._release(after=line)
        self._pending = (tag, line)
        return ready

    def flush(self) -> list[tuple[T, str]]:
        return self._release(after="")

    def _release(self, after: str) -> list[tuple[T, str]]:
        if self._pending is None:
            return []
        tag, line = self._pending
        self._pending = None
        redacted = redact_lines([self._before, line, after], self._secrets())[1]
        self._before = line
        return [(tag, redacted)]


def redact_value(value: Any, secrets: frozenset[str]) -> Any:
    """``redact`` applied to everything inside a task's result, whatever its type.

    Strings, bytes and bytearrays are redacted in place of the secret; dicts, lists, tuples,
    sets and frozensets are copied with their items redacted; an exception is rebuilt from
    its redacted arguments. Any other object that holds a secret (in what it pickles to or in
    its ``repr``) is replaced by its redacted ``repr``: a str, as nothing else can be stored
    safely. Copy-on-write: containers without a secret are returned as they are, so a large
    result costs one walk and no copy.
    """
    if not secrets:
        return value
    ordered = sorted(secrets, key=len, reverse=True)
    encoded = [secret.encode("utf-8", "surrogatepass") for secret in ordered]

    def holds_secret(item: Any) -> bool:
        # One scan of the pickled value (its strings are stored as UTF-8) is 5x faster than a
        # walk, and most results hold no secret.
        try:
            pickled = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return True  # unknown: walk it
        return any(secret in pickled for secret in encoded)

    def walk(item: Any) -> Any:
        if item is None or isinstance(item, bool | int | float | complex):
            return item
        if isinstance(item, str):
            return redact(item, ordered) if any(secret in item for secret in ordered) else item
        if isinstance(item, bytes | bytearray):
            if not any(secret in item for secret in encoded):
                return item
            redacted = bytes(item)
            for secret in encoded:
                redacted = redacted.replace(secret, REDACTED.encode())
            return type(item)(redacted)
        if isinstance(item, Mapping):
            pairs = [(key, old, walk(key), walk(old)) for key, old in item.items()]
            if all(nk is k and nv is v for k, v, nk, nv in pairs):
                return item
            return {nk: nv for _, _, nk, nv in pairs}
        if isinstance(item, list | tuple | set | frozenset):
            items = [(old, walk(old)) for old in item]
            if all(new is old for old, new in items):
                return item
            kind = next(k for k in (list, tuple, set, frozenset) if isinstance(item, k))
            return kind(new for _, new in items)
        if not holds_secret(item) and not any(secret in _repr(item) for secret in ordered):
            return item
        if isinstance(item, BaseException):
            return _rebuilt(item, walk, holds_secret) or redact(_repr(item), ordered)
        return redact(_repr(item), ordered)

    if isinstance(value, str) or holds_secret(value):
        return walk(value)
    return value


def _rebuilt(error: BaseException, walk: Callable[[Any], Any], holds_secret: Callable[[Any], bool]) -> Any:
    """``error`` made again, as pickle would, from its redacted arguments and attributes;
    None if it cannot be."""
    try:
        reduced = error.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        if isinstance(reduced, str):  # a global: nothing to redact in it
            return error
        make, args, *rest = reduced
        copy = make(*walk(args))
        state = rest[0] if rest else None
        if isinstance(state, Mapping):
            copy.__dict__.update(walk(state))
    except Exception:
        return None
    return None if holds_secret(copy) else copy


def _repr(item: Any) -> str:
    try:
        return repr(item)
    except Exception:
        return f"<{type(item).__name__}>"


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
        # Shortest first: a secret's forms are longer than it, and those given already (a
        # session registers its config's forms) need no forms of their own.
        for secret in sorted(secrets, key=len):
            if secret not in _SECRETS:
                _SECRETS.update(_forms(secret))
    _install()


def active_secrets() -> frozenset[str]:
    with _LOCK:
        return frozenset(_SECRETS)


class _RedactingStream:
    """``sys.stdout`` or ``sys.stderr``, redacted line by line: a secret written in pieces
    (``write`` twice, ``print(*secret, sep="")``) is whole by the end of its line. A line
    is held until it ends, it grows past ``MAX_PENDING`` or the stream is flushed."""

    MAX_PENDING = 64 * 1024

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            self.flush_pending()
            return self._stream.write(text)
        secrets = active_secrets()
        with self._lock:
            if not secrets and not self._pending:
                self._stream.write(text)
                return len(text)
            self._pending += text
            head, newline, self._pending = self._pending.rpartition("\n")
            if len(self._pending) > self.MAX_PENDING:
                head, newline, self._pending = head + newline + self._pending, "", ""
            if head or newline:
                self._stream.write(redact(head + newline, secrets))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, ""
            if pending:
                self._stream.write(redact(pending, active_secrets()))

    def flush(self) -> None:
        self.flush_pending()
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _redact_record(record: logging.LogRecord) -> None:
    """Redact a log record in place: its message, and its traceback and stack text."""
    secrets = active_secrets()
    if not secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: the handler reports it
        return
    redacted = redact(message, secrets)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        exc_text = redact(record.exc_text, secrets)
        if exc_text != record.exc_text:
            # Formatters use exc_text when it is set; one that formats exc_info itself must
            # not find the secret there.
            record.exc_text, record.exc_info = exc_text, None
    if record.stack_info:
        record.stack_info = redact(record.stack_info, secrets)


_handle = logging.Handler.handle


def _redacting_handle(self: logging.Handler, record: logging.LogRecord) -> Any:
    _redact_record(record)
    return _handle(self, record)


def _install() -> None:
    with _LOCK:
        if not isinstance(sys.stdout, _RedactingStream):
            sys.stdout = _RedactingStream(sys.stdout)  # type: ignore[assignment]
        if not isinstance(sys.stderr, _RedactingStream):
            sys.stderr = _RedactingStream(sys.stderr)  # type: ignore[assignment]
        # Every record reaches its handlers through Handler.handle, whichever logger made it
        # and whatever its ``propagate``: handlers added later, to any logger, are covered
        # too. Only a handler that overrides ``handle`` itself escapes (none in the standard
        # library, Dagster or the libraries we use, but NullHandler, which writes nothing).
        if logging.Handler.handle is not _redacting_handle:
            logging.Handler.handle = _redacting_handle  # type: ignore[method-assign]
