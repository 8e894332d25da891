"""Where the project and its local state live."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR_ENV = "INTEGRATIONS_PROJECT_DIR"
HOME_ENV = "INTEGRATIONS_HOME"


def project_dir() -> Path:
    """The folder holding integrations.json and integrations/ (``INTEGRATIONS_PROJECT_DIR``)."""
    configured = os.environ.get(PROJECT_DIR_ENV)
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Where local state lives (the embedded database, caches): ``INTEGRATIONS_HOME`` or
    ``<project>/.integrations``."""
    configured = os.environ.get(HOME_ENV)
    return Path(configured) if configured else project_dir() / ".integrations"
