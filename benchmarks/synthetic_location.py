"""A code location over the benchmark's generated project (BENCH_SYNTHETIC_PROJECT), so the
multiprocess executor can reconstruct the job in its step processes."""

import os
from pathlib import Path

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.orchestration.build import build_definitions

defs = build_definitions(load_catalog(Path(os.environ["BENCH_SYNTHETIC_PROJECT"])))

# The multiprocess executor reconstructs the job by this module attribute.
synth_000 = defs.resolve_job_def("synth_000")
