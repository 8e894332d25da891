"""Peak memory of a run against the size of the data it collects. Prints; asserts nothing.

A throwaway integration's collector returns N records (dicts of 6 fields), run with
``run_integration`` at several N, each N in a fresh process. For each: the data's own size
(Python objects, measured by building it alone), the run's peak (tracemalloc, above the
memory before the run) and the process's peak RSS growth (ru_maxrss, a run without
tracemalloc). A straight line through the peaks gives the fixed base and MB per 10,000
records; its slope over the data's says how many copies of the data a run holds at peak.

Usage: python benchmarks/bench_memory.py [--rounds N] [--sizes 0,10000,50000,100000]
"""

import argparse
import contextlib
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_http import write_project  # noqa: E402

NAME = "bench_memory"
MB = 1 << 20
PER = 10_000


def make_records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "name": f"resource-{n:07d}",
            "owner": f"team-{n % 50}",
            "region": "eu-west-1",
            "size": n * 3,
            "public": n % 2 == 0,
        }
        for n in range(count)
    ]


COLLECTOR = f"""from typing import Any

from integrations_pipeline.sdk import TaskContext, task


@task(name="collect_records", title="Collect records")
def collect_records(self, ctx: TaskContext):
    return {{"data": make_records(ctx.config["records"]), "message": "collected"}}


{inspect.getsource(make_records)}"""
SCHEMA = {
    "type": "object",
    "required": ["api_key"],
    "properties": {"api_key": {"type": "string", "writeOnly": True}, "records": {"type": "integer"}},
}


# --- one size, in a fresh process ---------------------------------------------------------------


def rss() -> int:
    """This process's resident set size now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_one(records: int) -> dict[str, float]:
    """In this process: RSS growth of a run, its tracemalloc peak, and the data's own size."""
    from integrations_pipeline.testing import run_integration

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        os.environ["INTEGRATIONS_HOME"] = str(Path(tmp) / "integrations-home")
        os.environ["BENCH_MEMORY_API_KEY"] = "bench-memory-key-0123456789"
        project = write_project(Path(tmp) / "bench_memory_project", NAME, SCHEMA, COLLECTOR)
        config = {"api_key": {"env": "BENCH_MEMORY_API_KEY"}}

        def run(count: int) -> None:
            with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):  # Dagster's event log
                result = run_integration(NAME, {**config, "records": count}, project=project)
            assert result.success and len(result["collect_records"].data) == count, result.errors

        run(0)  # imports, caches: not counted
        before = rss()
        run(records)
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        run(records)
        peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        data = make_records(records)  # the collector's data alone
        size = tracemalloc.get_traced_memory()[0] - start
        del data
        tracemalloc.stop()
    return {"records": records, "data": size, "peak": peak, "rss": max(0, rss_growth)}


def measure(records: int) -> dict[str, float]:
    """``measure_one`` in a fresh process, so that no other size's memory is counted."""
    output = subprocess.run(
        [sys.executable, __file__, "--one", str(records)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# --- report ------------------------------------------------------------------------------------


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line through (xs, ys): (intercept, slope)."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


def report(rows: list[dict[str, float]], rounds: int) -> None:
    print(f"peak memory of a run against the records its collector returns; median of {rounds} rounds")
    print(f"  {'records':>8} {'data':>9} {'run peak':>10} {'peak / data':>12} {'peak RSS growth':>16}")
    for row in rows:
        ratio = f"{row['peak'] / row['data']:.2f}" if row["records"] else "-"
        print(
            f"  {row['records']:8,.0f} {row['data'] / MB:6.1f} MB {row['peak'] / MB:7.1f} MB {ratio:>12} "
            f"{row['rss'] / MB:13.1f} MB"
        )
    xs = [row["records"] / PER for row in rows]
    base, per_peak = fit(xs, [row["peak"] / MB for row in rows])
    _, per_data = fit(xs, [row["data"] / MB for row in rows])
    rss_base, per_rss = fit(xs, [row["rss"] / MB for row in rows])
    print(
        f"  per {PER:,} records: data {per_data:.2f} MB, run peak {per_peak:.2f} MB "
        f"({per_peak / per_data:.2f} copies of the data), peak RSS {per_rss:.2f} MB; "
        f"fixed base: {base:.1f} MB traced, {rss_base:.1f} MB RSS"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sizes", default="0,10000,50000,100000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure_one(args.one)))
        return
    rows = []
    for records in (int(size) for size in args.sizes.split(",")):
        samples = [measure(records) for _ in range(args.rounds)]
        rows.append({key: statistics.median(s[key] for s in samples) for key in samples[0]})
    report(rows, args.rounds)


if __name__ == "__main__":
    main()
