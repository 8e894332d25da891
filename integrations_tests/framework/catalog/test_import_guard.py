"""An integration that exits or hangs while being imported is that integration's load
problem; the code location still loads the others (a fresh process, as the code server)."""

import json
import os
import subprocess
import sys

from integrations_tests.conftest import PROJECT

GOOD = """
from integrations_pipeline.sdk import task


@task(name="feed")
def feed(self, ctx):
    return {"data": []}
"""

LOAD = """
import json
from integrations_pipeline.definitions import defs

jobs = {job.name: job.description for job in defs.get_repository_def().get_all_jobs()}
print(json.dumps(jobs))
"""


def test_an_import_that_exits_or_hangs_is_its_own_load_problem(make_project):
    project = make_project(
        {
            "good": {"files": {"collectors/feed.py": GOOD}},
            "quits": {"files": {"collectors/feed.py": "import os\n\nos._exit(1)\n"}},
            "exits": {"files": {"collectors/feed.py": "import sys\n\nsys.exit(3)\n"}},
            "spins": {"files": {"collectors/feed.py": "while True:\n    pass\n"}},
        }
    )
    env = {**os.environ, "INTEGRATIONS_PROJECT_DIR": str(project), "INTEGRATIONS_IMPORT_TIMEOUT_SECONDS": "2"}
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    jobs = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert not jobs["good"].startswith("BROKEN")
    assert "it tried to end the process (exit code 1)" in jobs["quits"]
    assert "it tried to end the process (exit code 3)" in jobs["exits"]
    assert "it ran past 2 s (INTEGRATIONS_IMPORT_TIMEOUT_SECONDS)" in jobs["spins"]
