"""The application database under conditions users create: threads migrating at once, and a
production DAGSTER_HOME without INTEGRATIONS_DATABASE_URL."""

import threading

from integrations_pipeline.db.engine import upgrade_schema
from integrations_tests.framework.cli.command import integrations

POSTGRES_INSTANCE = """
storage:
  postgres:
    postgres_db:
      hostname: 127.0.0.1
      username: postgres
      db_name: dagster
"""


def test_threads_migrating_databases_at_once_each_get_the_schema(tmp_path):
    # Alembic keeps the running migration in module globals: without a lock these threads
    # failed with KeyError('script') or "table ... already exists".
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []
    applied: list[list[str]] = []

    def migrate(index: int) -> None:
        try:
            barrier.wait()
            applied.append(upgrade_schema(f"sqlite:///{tmp_path / f'app{index}.db'}"))
        except BaseException as error:  # the failure is the test's finding
            errors.append(error)

    threads = [threading.Thread(target=migrate, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(applied) == threads_count and all(a == applied[0] and a for a in applied)


def test_the_command_refuses_a_new_local_database_on_a_production_home(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(POSTGRES_INSTANCE)
    local = tmp_path / "integrations-home"
    refused = integrations("violations", env={"DAGSTER_HOME": str(home), "INTEGRATIONS_HOME": str(local)})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: INTEGRATIONS_DATABASE_URL is not set, and DAGSTER_HOME (")
    assert not (local / "integrations.db").exists()


def test_a_development_home_on_sqlite_keeps_the_local_database(tmp_path):
    home = tmp_path / "dagster_home"  # as `make dev` has it: no dagster.yaml, SQLite storage
    home.mkdir()
    local = tmp_path / "integrations-home"
    listed = integrations("violations", env={"DAGSTER_HOME": str(home), "INTEGRATIONS_HOME": str(local)})
    assert listed.returncode == 0 and listed.stdout.strip() == "no findings", listed.stderr
    (home / "dagster.yaml").write_text(POSTGRES_INSTANCE)  # the local database exists now: kept
    again = integrations("violations", env={"DAGSTER_HOME": str(home), "INTEGRATIONS_HOME": str(local)})
    assert again.returncode == 0, again.stderr
