"""Framework overhead against plain Dagster, and the executor choice. Prints; asserts nothing.

1. Load as a user pays it: a fresh Python process that imports the code location
   (integrations_pipeline.definitions: the framework, discovery of the integrations and
   building the definitions), against a fresh process that imports and builds the same
   assets, checks and jobs written by hand in plain Dagster. For 1 integration x 100 tasks
   and for 100 integrations x 20 tasks; wall and CPU time, medians, ratios framework / plain.
2. One synthetic integration (50 collectors, 50 insights, small data) compiled by the
   framework, and the same written by hand in plain Dagster: in-process run, alternating,
   median of several rounds; ratio framework / plain. (In-process load is printed too: it
   leaves the imports out, which a user always pays.)
3. The executor for many small tasks: in-process against multiprocess, one integration.

Usage: python benchmarks/bench_framework.py [--rounds N] [--skip-executors] [--in-process-many]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import dagster as dg

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.plain_location import plain_defs  # noqa: E402
from integrations_pipeline.authoring.tasks import REGISTRY  # noqa: E402
from integrations_pipeline.catalog.discovery import load_catalog  # noqa: E402
from integrations_pipeline.orchestration.build import build_definitions  # noqa: E402

ENTRY = """from integrations_pipeline.sdk import BaseRunner, register_tasks


class Runner(BaseRunner):
    name = "{name}"

    def __init__(self, config):
        config["integration_name"] = self.name
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        def start(self):
            return dict(self.config)  # the config, as the base every task reads

    class StageTwo(BaseRunner.StageTwo):
        pass
"""
COLLECTOR = """from integrations_pipeline.sdk import TaskContext, task


@task(name="collect_{i:03d}", title="Collect {i}", order={order})
def collect_{i:03d}(self, ctx: TaskContext):
    return {{"data": [{{"id": n, "value": n * {i}}} for n in range(5)], "message": "5 records"}}
"""
INSIGHT = """from integrations_pipeline.sdk import TaskContext, task


@task(name="judge_{i:03d}", title="Judge {i}", type="insight", severity="high")
def judge_{i:03d}(self, ctx: TaskContext):
    rows = ctx.get_data("collect_{i:03d}")
    return {{"violation": {i} % 2 == 0, "data": {{"n": len(rows)}}, "message": "judged"}}
"""


def write_project(root: Path, integrations: int, pairs: int) -> Path:
    """A project folder with `integrations` synthetic integrations of `pairs` collector+insight."""
    # The project folder is a package of its own so that its `integrations` package does
    # not clash with this repository's.
    (root / "integrations").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "integrations" / "__init__.py").write_text("")
    entries = []
    for k in range(integrations):
        name = f"synth_{k:03d}"
        entries.append(
            {
                "name": name,
                "title": f"Synthetic {k}",
                "schema": {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"type": "string", "writeOnly": True}},
                },
            }
        )
        folder = root / "integrations" / name
        for sub in ("collectors", "insights"):
            (folder / sub).mkdir(parents=True)
            (folder / sub / "__init__.py").write_text("")
        (folder / "__init__.py").write_text("")
        (folder / "entry.py").write_text(ENTRY.format(name=name))
        for i in range(pairs):
            (folder / "collectors" / f"collect_{i:03d}.py").write_text(COLLECTOR.format(i=i, order=100 + i))
            (folder / "insights" / f"judge_{i:03d}.py").write_text(INSIGHT.format(i=i))
    (root / "integrations.json").write_text(json.dumps(entries))
    return root


def unload(project: Path) -> None:
    REGISTRY.reset()
    prefix = f"{project.name}.integrations"
    for module in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[module]


def framework_defs(project: Path) -> dg.Definitions:
    unload(project)
    defs = build_definitions(load_catalog(project))
    defs.get_repository_def().get_all_jobs()
    return defs


PLAIN_INIT = """import dagster as dg


class Session(dg.ConfigurableResource):
    api_key: str


job = dg.define_asset_job("{name}", selection=dg.AssetSelection.groups("{name}"), executor_def=dg.in_process_executor)
"""
PLAIN_ASSET = """import dagster as dg


@dg.asset(key=["{name}", "collect_{i:03d}"], group_name="{name}", required_resource_keys={{"{name}"}},
          op_tags={{"dagster/priority": "{priority}"}})
def collect_{i:03d}(context: dg.AssetExecutionContext):
    return {{"data": [{{"id": n, "value": n * {i}}} for n in range(5)], "message": "5 records"}}
"""
PLAIN_CHECK = """import dagster as dg


@dg.asset_check(asset=dg.AssetKey(["{name}", "collect_{i:03d}"]), name="judge_{i:03d}",
                required_resource_keys={{"{name}"}}, op_tags={{"dagster/priority": "-1000500"}})
def judge_{i:03d}(context: dg.AssetCheckExecutionContext, collect):
    rows = collect["data"]
    violation = {i} % 2 == 0
    return dg.AssetCheckResult(
        passed=not violation, severity=dg.AssetCheckSeverity.ERROR, metadata={{"n": len(rows), "message": "judged"}}
    )
"""


def write_plain_project(root: Path, integrations: int, pairs: int) -> Path:
    """The same integrations written by hand in plain Dagster: one module per asset and check."""
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    for k in range(integrations):
        name = f"synth_{k:03d}"
        folder = root / name
        folder.mkdir()
        (folder / "__init__.py").write_text(PLAIN_INIT.format(name=name))
        for i in range(pairs):
            (folder / f"collect_{i:03d}.py").write_text(PLAIN_ASSET.format(name=name, i=i, priority=-100 - i))
            (folder / f"judge_{i:03d}.py").write_text(PLAIN_CHECK.format(name=name, i=i))
    return root


REPOSITORY = Path(__file__).resolve().parent.parent
FRAMEWORK_LOAD = (
    "from integrations_pipeline.definitions import defs; defs.get_repository_def().get_all_jobs()"
)
PLAIN_LOAD = (
    "import sys; from pathlib import Path; from benchmarks.plain_location import plain_defs; "
    "plain_defs(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))"
)


def fresh_process(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a new Python process running ``code``."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPOSITORY,
        env={**os.environ, **(env or {})},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def compare_fresh_loads(rounds: int, scratch: Path) -> None:
    for integrations, pairs in ((1, 50), (100, 10)):
        label = f"{integrations}x{pairs * 2}"
        project = write_project(scratch / f"fresh_{label}", integrations, pairs)
        plain = write_plain_project(scratch / f"fresh_plain_{label}", integrations, pairs)
        env = {"INTEGRATIONS_PROJECT_DIR": str(project)}
        walls: dict[str, list[float]] = {"framework": [], "plain": []}
        cpus: dict[str, list[float]] = {"framework": [], "plain": []}
        for round_ in range(rounds + 1):  # the first round warms the OS's file cache
            for kind in ("framework", "plain"):
                if kind == "framework":
                    wall, cpu = fresh_process(FRAMEWORK_LOAD, env=env)
                else:
                    wall, cpu = fresh_process(PLAIN_LOAD, str(plain), str(integrations), str(pairs))
                if round_:
                    walls[kind].append(wall)
                    cpus[kind].append(cpu)
        title = f"{integrations} integration(s) x {pairs * 2} tasks"
        _report(f"fresh-process load, {title} (wall)", walls, target=1.2)
        _report(f"fresh-process load, {title} (CPU) ", cpus, target=1.2)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run_config(name: str, framework: bool) -> dict:
    config = {"api_key": "bench-key"}
    return {"resources": {name: {"config": config}}}


def compare_one_integration(rounds: int, scratch: Path) -> None:
    project = write_project(scratch / "single", 1, 50)
    plain = write_plain_project(scratch / "plain_single", 1, 50)
    name = "synth_000"
    loads: dict[str, list[float]] = {"framework": [], "plain": []}
    runs: dict[str, list[float]] = {"framework": [], "plain": []}
    for round_ in range(rounds + 1):  # the first round warms caches and is not counted
        for kind in ("framework", "plain"):
            load_s, defs = timed(
                lambda: framework_defs(project) if kind == "framework" else plain_defs(plain, 1, 50)
            )
            job = defs.resolve_job_def(name)  # type: ignore[union-attr]
            with dg.DagsterInstance.ephemeral() as instance:
                run_s, result = timed(
                    lambda: job.execute_in_process(
                        run_config=run_config(name, kind == "framework"), instance=instance
                    )
                )
            assert result.success  # type: ignore[union-attr]
            if round_:
                loads[kind].append(load_s)
                runs[kind].append(run_s)
    _report("1 integration, 50 collectors + 50 insights: in-process load (no imports)", loads, target=1.2)
    _report("1 integration, 50 collectors + 50 insights: run ", runs, target=1.15)


def compare_many_integrations(rounds: int, scratch: Path) -> None:
    project = write_project(scratch / "many", 100, 10)
    plain = write_plain_project(scratch / "plain_many", 100, 10)
    loads: dict[str, list[float]] = {"framework": [], "plain": []}
    for round_ in range(rounds + 1):
        for kind in ("framework", "plain"):
            load_s, _ = timed(
                lambda: framework_defs(project) if kind == "framework" else plain_defs(plain, 100, 10)
            )
            if round_:
                loads[kind].append(load_s)
    _report("100 integrations x 20 tasks: definitions load    ", loads, target=1.2)


def compare_executors(scratch: Path) -> None:
    project = write_project(scratch / "executors", 1, 10)
    name = "synth_000"
    defs = framework_defs(project)
    job = defs.resolve_job_def(name)
    home = scratch / "dagster-home"
    home.mkdir()
    timings = {}
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for executor in ("in_process", "multiprocess"):
            config = {**run_config(name, True), "execution": {"config": {executor: {}}}}
            if executor == "multiprocess":
                # Multiprocess needs a reconstructable job: run it through the code location.
                from dagster import reconstructable  # noqa: F401 - documents why execute_job is used

                seconds, result = timed(lambda: _execute_via_module(instance, name, config))
            else:
                seconds, result = timed(lambda: job.execute_in_process(run_config=config, instance=instance))
            assert result.success
            timings[executor] = seconds
    steps = 20
    print(
        f"executor, 10 collectors + 10 insights: in_process {timings['in_process']:.2f} s "
        f"({timings['in_process'] / steps * 1000:.0f} ms/step), multiprocess {timings['multiprocess']:.2f} s "
        f"({timings['multiprocess'] / steps * 1000:.0f} ms/step); "
        f"multiprocess / in_process = {timings['multiprocess'] / timings['in_process']:.1f}x"
    )


def _execute_via_module(instance: dg.DagsterInstance, name: str, config: dict):
    from dagster._core.definitions.reconstruct import ReconstructableJob

    recon = ReconstructableJob.for_module("benchmarks.synthetic_location", name)  # module attribute
    return dg.execute_job(recon, instance=instance, run_config=config)


def _report(label: str, samples: dict[str, list[float]], target: float) -> None:
    framework = statistics.median(samples["framework"])
    plain = statistics.median(samples["plain"])
    ratio = framework / plain
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"{label}: framework {framework * 1000:8.1f} ms  plain {plain * 1000:8.1f} ms  "
        f"ratio {ratio:5.2f} (target <= {target})  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-executors", action="store_true")
    parser.add_argument(
        "--in-process-many", action="store_true", help="also load 100 x 20 in-process (no imports)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        scratch = Path(tmp)
        os.environ["INTEGRATIONS_HOME"] = str(scratch / "integrations-home")
        compare_fresh_loads(args.rounds, scratch)
        compare_one_integration(args.rounds, scratch)
        if args.in_process_many:
            compare_many_integrations(max(1, args.rounds // 2), scratch)
        if not args.skip_executors:
            os.environ["BENCH_SYNTHETIC_PROJECT"] = str(scratch / "executors")
            compare_executors(scratch)


if __name__ == "__main__":
    main()
