"""Connections to the inspected server: read-only, one per task and database."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extras

# pg_settings sources that come from the server's own configuration, not from a role,
# a database or the session.
SERVER_SOURCES = {"default", "configuration file", "command line", "environment variable", "override"}


class Server:
    """One PostgreSQL server as the config describes it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.address = f"{config['host']}:{config.get('port', 5432)}"

    @contextmanager
    def connect(self, database: str | None = None) -> Iterator[Any]:
        """A read-only autocommit connection to ``database`` (the configured one by default)."""
        database = database or self.config.get("database", "postgres")
        try:
            conn = psycopg2.connect(
                host=self.config["host"],
                port=self.config.get("port", 5432),
                user=self.config["user"],
                password=self.config.get("password"),
                dbname=database,
                sslmode=self.config.get("sslmode", "prefer"),
                connect_timeout=self.config.get("connect_timeout", 10),
                application_name="integrations-postgres",
                cursor_factory=psycopg2.extras.RealDictCursor,
            )
        except psycopg2.OperationalError as error:
            reason = " ".join(str(error).split())
            raise ConnectionError(
                f"cannot connect to database '{database}' at {self.address} "
                f"as '{self.config['user']}': {reason}"
            ) from None
        try:
            conn.set_session(readonly=True, autocommit=True)
            yield conn
        finally:
            conn.close()

    def resource(self, *path: str) -> str:
        """A stable resource id: ``postgresql://host:port/<path>``."""
        return "/".join([f"postgresql://{self.address}", *path])


def query(conn: Any, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [dict(row) for row in cur.fetchall()]


def each_database(ctx: Any, sql: str) -> dict[str, list[dict[str, Any]]]:
    """Run ``sql`` in every database that accepts connections; ones that fail go to ``ctx.add_error``."""
    server: Server = ctx.base("server")
    with server.connect() as conn:
        names = [
            row["datname"]
            for row in query(
                conn,
                "SELECT datname FROM pg_database WHERE datallowconn "
                "AND has_database_privilege(datname, 'CONNECT') ORDER BY datname",
            )
        ]
    found: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        try:
            with server.connect(name) as conn:
                found[name] = query(conn, sql)
        except (ConnectionError, psycopg2.Error) as error:
            ctx.add_error(f"database '{name}' skipped: {' '.join(str(error).split())}")
    return found
