"""Where a config's ``{env: VAR}`` is read: a secrets directory, then the environment.

``INTEGRATIONS_SECRETS_DIR`` names a directory with one file per variable (the file's name is
the variable's, its content the value, a trailing newline dropped), the way Docker and
Kubernetes mount secrets. It is read each time a config is resolved, by the process that
resolves it (the run's, for a run): an operator adds or rotates a customer's secret there
without restarting the code server. A variable with no file there is read from the
process's environment.
"""

from __future__ import annotations

import os
from pathlib import Path

SECRETS_DIR_ENV = "INTEGRATIONS_SECRETS_DIR"


def lookup(name: str) -> str | None:
    """The value of variable ``name``, or None where neither source has it."""
    directory = os.environ.get(SECRETS_DIR_ENV)
    if directory and name and "/" not in name and name not in (".", ".."):
        try:
            return (Path(directory) / name).read_text().removesuffix("\n").removesuffix("\r")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        except OSError:
            pass  # unreadable here: as if it were not there
    return os.environ.get(name)


def where_to_set(name: str) -> str:
    """How to tell a user where the variable ``name`` may come from."""
    directory = os.environ.get(SECRETS_DIR_ENV)
    place = (
        f"a file {name} in {SECRETS_DIR_ENV} ({directory})" if directory else f"a file in {SECRETS_DIR_ENV}"
    )
    return f"the environment of the process that runs it, or {place}"


def missing(config: object) -> list[str]:
    """The variables the ``{env: VAR}`` references in ``config`` name that :func:`lookup`
    cannot find here, in order, once each."""
    names: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if set(value) == {"env"} and isinstance(value["env"], str):
                if lookup(value["env"]) is None and value["env"] not in names:
                    names.append(value["env"])
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config)
    return names
