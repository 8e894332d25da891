"""Servers for the postgres integration: the machine's PostgreSQL, and a hardened one of our own.

``local`` is the PostgreSQL every test uses (127.0.0.1:5432); tests create and drop their own
roles and databases there with ``scratch``. ``hardened`` is a throwaway cluster this session
starts with ``initdb``: SSL on, a password on its only role, scram-sha-256 everywhere. Server
settings cannot be changed on the shared server, so the settings' pass and fail cases run on
it, changed with ALTER SYSTEM and put back.
"""

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import sqlalchemy

from integrations_tests.conftest import POSTGRES_ADMIN_URL, _admin_engine

ADMIN = sqlalchemy.engine.make_url(POSTGRES_ADMIN_URL)
LOCAL = {"host": ADMIN.host or "127.0.0.1", "port": ADMIN.port or 5432, "user": ADMIN.username or "postgres"}
HARDENED_PASSWORD = f"pg-{secrets.token_urlsafe(16)}"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the postgres integration tests need {reason}")
    pytest.skip(reason)


class Scratch:
    """Roles and databases of one test on a server, dropped afterwards (names are unique)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.roles: list[str] = []
        self.databases: list[str] = []

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        conn = psycopg2.connect(
            host=self.config["host"],
            port=self.config["port"],
            user=self.config["user"],
            password=self.config.get("password"),
            dbname=database,
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def role(self, attributes: str = "NOLOGIN") -> str:
        name = f"it_role_{uuid.uuid4().hex[:10]}"
        self.sql(f'CREATE ROLE "{name}" {attributes}')
        self.roles.append(name)
        return name

    def database(self) -> str:
        name = f"it_db_{uuid.uuid4().hex[:10]}"
        self.sql(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    def drop(self) -> None:
        for name in self.databases:
            self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for name in self.roles:
            self.sql(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def local() -> dict[str, Any]:
    """Config of the postgres integration for the machine's PostgreSQL, as its superuser."""
    _admin_engine().dispose()  # fails in CI, skips elsewhere, without a server
    return {**LOCAL, "database": "postgres"}


@pytest.fixture
def scratch(local: dict[str, Any]) -> Iterator[Scratch]:
    made = Scratch(local)
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture(scope="session")
def hardened_server() -> Iterator[dict[str, Any]]:
    """A PostgreSQL cluster of our own with every checked setting right, for this session."""
    versions = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found = max(versions, key=lambda path: int(Path(path).parts[-3]), default=None) or shutil.which("initdb")
    if not found or not shutil.which("openssl"):
        _unavailable("PostgreSQL's initdb and pg_ctl (package postgresql) and openssl")
    bindir = Path(found).parent
    # PostgreSQL refuses to run as root: run its programs as the postgres user then.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_owner:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("an OS user 'postgres' to run a throwaway cluster as (PostgreSQL refuses root)")
    home = Path(tempfile.mkdtemp(prefix="integrations-pg-"))
    data = home / "data"
    (home / "pwfile").write_text(HARDENED_PASSWORD + "\n")
    if as_owner:
        shutil.chown(home, "postgres")
        shutil.chown(home / "pwfile", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def run(*command: str) -> None:
        subprocess.run([*as_owner, *command], check=True, capture_output=True, text=True)

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--pwfile",
            str(home / "pwfile"),
            "--auth",
            "scram-sha-256",
            "--no-sync",
        )
        run(
            "openssl",
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(data / "server.key"),
            "-out",
            str(data / "server.crt"),
        )
        os.chmod(data / "server.key", 0o600)
        # In postgresql.conf, not on the command line, so that ALTER SYSTEM can override them.
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("ssl = on\nlog_connections = on\n")
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
    except subprocess.CalledProcessError as error:
        shutil.rmtree(home, ignore_errors=True)
        _unavailable(f"a throwaway cluster, which did not start: {error.stderr or error.stdout}")
    try:
        yield {
            "host": "127.0.0.1",
            "port": port,
            "user": "postgres",
            "password": HARDENED_PASSWORD,
            "database": "postgres",
            "sslmode": "require",
        }
    finally:
        subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def hardened(hardened_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The hardened cluster's config; settings a test changes with ALTER SYSTEM are reset after it."""
    yield dict(hardened_server)
    Scratch(hardened_server).sql("ALTER SYSTEM RESET ALL")
    Scratch(hardened_server).sql("SELECT pg_reload_conf()")
