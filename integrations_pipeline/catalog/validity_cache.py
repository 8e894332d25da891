"""JSON Schemas (and defaults) found valid, remembered by digest across processes: seed 003's
validation cache.

Every process that loads the catalog checks every integration's schema, and importing
jsonschema alone costs about 0.15 s of the code location's load. A digest covers the value
checked and the jsonschema version that checked it; only what passed is remembered, so a
broken schema is checked (and reported) every time. The file lives in the data folder
(``INTEGRATIONS_HOME``, default ``<project>/.integrations``); where it cannot be written the
checks simply run every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from integrations_pipeline.common.paths import data_dir

FILE_NAME = "valid-schemas.json"
_LOCK = threading.Lock()
_KNOWN: dict[Path, set[str]] = {}


def _path() -> Path:
    return data_dir() / "cache" / FILE_NAME


def digest(kind: str, value: Any) -> str:
    from importlib.metadata import version

    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(f"{kind}\njsonschema {version('jsonschema')}\n{text}".encode()).hexdigest()


def _known(path: Path) -> set[str]:
    if path not in _KNOWN:
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = []
        _KNOWN[path] = set(stored) if isinstance(stored, list) else set()
    return _KNOWN[path]


def is_known_valid(key: str) -> bool:
    with _LOCK:
        return key in _known(_path())


def remember_valid(key: str) -> None:
    """Add ``key``; a cache that cannot be written (a read-only folder) is left as it is."""
    path = _path()
    with _LOCK:
        known = _known(path)
        known.add(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(sorted(known)), encoding="utf-8")
            os.replace(temporary, path)  # concurrent writers: the last wins, the rest re-check later
        except OSError:
            pass
