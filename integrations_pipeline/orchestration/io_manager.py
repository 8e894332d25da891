"""Where collected data lives between a collector and the insights that read it.

Outputs are stored per run (``<storage>/integrations/<run_id>/<integration>/<task>``), so
two runs, of one deployment or of two, never read each other's data, and a re-execution
reads its parent run's outputs through ``upstream_output.run_id``. The data stored is the
task's result after redaction of secrets.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import dagster as dg


def storage_dir(instance: dg.DagsterInstance) -> Path:
    return Path(instance.storage_directory()) / "integrations"


def _output_path(base: Path, run_id: str, asset_key: dg.AssetKey) -> Path:
    return base.joinpath(run_id, *asset_key.path)


def load_task_output(instance: dg.DagsterInstance, run: dg.DagsterRun, asset_key: dg.AssetKey) -> Any:
    """The output of ``asset_key`` stored by ``run``, or by the run it re-executes."""
    base = storage_dir(instance)
    current: dg.DagsterRun | None = run
    while current is not None:
        path = _output_path(base, current.run_id, asset_key)
        if path.exists():
            with path.open("rb") as handle:
                return pickle.load(handle)
        current = instance.get_run_by_id(current.parent_run_id) if current.parent_run_id else None
    raise dg.Failure(
        description=(
            f"the data of {asset_key.to_user_string()} is not stored for run {run.run_id}; "
            "run its collector in the same run"
        )
    )


class RunScopedIOManager(dg.IOManager):
    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        path = _output_path(storage_dir(self._instance), context.run_id, context.asset_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)

    def load_input(self, context: dg.InputContext) -> Any:
        # Tasks read other tasks' data with load_task_output (their dependencies are not
        # Dagster inputs); this serves anyone who declares one.
        upstream = context.upstream_output
        run = self._instance.get_run_by_id(upstream.run_id) if upstream else None
        if run is None:
            raise dg.Failure(description=f"no upstream run for input {context.name!r}")
        return load_task_output(self._instance, run, context.asset_key)


@dg.io_manager(description="Run-scoped pickles under the instance's storage directory.")
def run_scoped_io_manager(init_context: dg.InitResourceContext) -> RunScopedIOManager:
    assert init_context.instance is not None
    return RunScopedIOManager(init_context.instance)
