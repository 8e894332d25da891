"""Shared fixtures: a clean registry, environment and database for every test."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from integrations_pipeline.authoring.tasks import REGISTRY
from integrations_pipeline.common import redaction
from integrations_pipeline.db import engine as database

CASES = Path(__file__).parent / "framework" / "cases"
PROJECT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "INTEGRATIONS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
_ENV_PREFIXES = ("INTEGRATIONS_", "DAGSTER_HOME", "HELLO_WORLD_", "GUIDE_DEMO_")


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Own data dir per test, no stray configuration, a fresh registry and modules."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) and name != "INTEGRATIONS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("INTEGRATIONS_HOME", str(tmp_path / "integrations-home"))
    # Secrets registered in this process are redacted everywhere from then on: per test.
    monkeypatch.setattr(redaction, "_SECRETS", set())
    REGISTRY.reset()
    yield tmp_path
    REGISTRY.reset()
    database.dispose_engines()
    for module in [
        m for m in sys.modules if m.startswith(("integrations.", "integrations_tests.framework.cases."))
    ]:
        del sys.modules[module]


ENTRY = """from integrations_pipeline.sdk import BaseRunner, register_tasks


class Runner(BaseRunner):
    name = "{name}"

    def __init__(self, config):
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        pass

    class StageTwo(BaseRunner.StageTwo):
        pass
"""


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[Any]:
    """Write a throwaway project: ``make_project({name: {"schema": {...}, "files": {...}}})``.

    ``files`` maps paths inside the integration folder (``collectors/x.py``) to source.
    """
    package = f"project_{uuid.uuid4().hex[:10]}"

    def make(integrations: dict[str, dict[str, Any]]) -> Path:
        root = tmp_path / package
        (root / "integrations").mkdir(parents=True)
        (root / "__init__.py").write_text("")
        (root / "integrations" / "__init__.py").write_text("")
        entries = []
        for name, spec in integrations.items():
            entries.append(
                {
                    "name": name,
                    "title": name.title(),
                    "schema": spec.get("schema", {"type": "object"}),
                    **spec.get("entry", {}),
                }
            )
            folder = root / "integrations" / name
            for sub in ("collectors", "insights"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
                (folder / sub / "__init__.py").write_text("")
            (folder / "__init__.py").write_text("")
            (folder / "entry.py").write_text(ENTRY.format(name=name))
            for relative, source in spec.get("files", {}).items():
                (folder / relative).write_text(textwrap.dedent(source))
        (root / "integrations.json").write_text(json.dumps(entries))
        return root

    yield make
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]


def case(name: str) -> Path:
    """The folder of a sample project under integrations_tests/framework/cases/."""
    return CASES / name


def _admin_engine() -> Any:
    """An AUTOCOMMIT engine on the server; fails in CI (and skips elsewhere) without one."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except sqlalchemy.exc.OperationalError as error:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}")
    return admin


@pytest.fixture
def postgres_databases() -> Iterator[Any]:
    """``create(prefix) -> (name, url)``: throwaway PostgreSQL databases, dropped afterwards."""
    admin = _admin_engine()
    created: list[str] = []

    def create(prefix: str = "integrations_test") -> tuple[str, str]:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name, POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield create
    finally:
        database.dispose_engines()
        with admin.connect() as connection:
            for name in created:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_databases: Any) -> str:
    """A throwaway PostgreSQL database."""
    return postgres_databases()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test using it runs on the embedded SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("INTEGRATIONS_DATABASE_URL", url)
    return url


class Webhook:
    """A real HTTP server on loopback that records the JSON bodies posted to it."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.received: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.delay = delay
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                webhook.attempts += 1
                if webhook.attempts <= webhook.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                webhook.received.append(json.loads(body))
                time.sleep(webhook.delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook(fail_first=1)
    yield receiver
    receiver.close()
