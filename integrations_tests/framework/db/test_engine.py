"""The application database's engines on SQLite: transactions that read, then write."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from integrations_pipeline.db.engine import dispose_engines, engine, write_engine


@pytest.fixture
def url(tmp_path: Path):
    address = f"sqlite:///{tmp_path / 'app.db'}"
    with engine(address).begin() as connection:
        connection.execute(text("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER)"))
        connection.execute(text("INSERT INTO counters VALUES ('n', 0)"))
    yield address
    dispose_engines()


def _bump(url: str) -> None:
    with engine(url).begin() as connection:
        connection.execute(text("UPDATE counters SET value = value + 1"))


def _read_then_write(url: str, chosen, meanwhile) -> int:
    """Read, let ``meanwhile`` write from elsewhere, then write what was read plus ten."""
    with chosen.begin() as connection:
        value = connection.execute(text("SELECT value FROM counters")).scalar_one()
        meanwhile()
        connection.execute(text("UPDATE counters SET value = :v"), {"v": value + 10})
    with engine(url).connect() as connection:
        return connection.execute(text("SELECT value FROM counters")).scalar_one()


def test_a_plain_transaction_that_read_cannot_write_after_another_wrote(url: str):
    with pytest.raises(exc.OperationalError, match="database is locked"):
        _read_then_write(url, engine(url), lambda: _bump(url))


def test_a_write_engine_transaction_makes_the_other_writer_wait_its_turn(url: str):
    other = threading.Thread(target=_bump, args=(url,))

    def meanwhile() -> None:
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive(), "the other writer waits for the lock"

    assert _read_then_write(url, write_engine(url), meanwhile) == 10
    other.join()
    with engine(url).connect() as connection:
        assert connection.execute(text("SELECT value FROM counters")).scalar_one() == 11
