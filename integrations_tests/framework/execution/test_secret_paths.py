"""Every way a secret can leave a task, through a real run: none reaches the event log, the
outcomes, run storage, the application database or what the process printed (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from integrations_pipeline.testing import IntegrationRunResult, run_integration, secret_leaks

# A backslash and both quotes: repr() and json.dumps() escape each of them.
KEY = "sh'ort\"\\k-7c1e9a"
SCHEMA = {"type": "object", "properties": {"api_key": {"type": "string", "writeOnly": True}}}

ESCAPED = """
import json
import logging

from integrations_pipeline.sdk import TaskContext, task


def _key(ctx):
    return ctx.config["api_key"]


@task(name="raise_key_error", type="collector")
def raise_key_error(self, ctx: TaskContext):
    raise KeyError(_key(ctx))


@task(name="log_config_dict", type="collector")
def log_config_dict(self, ctx: TaskContext):
    ctx.add_log(str(dict(ctx.config)))
    ctx.add_error(json.dumps({"config": ctx.config}))
    return {"data": {"seen": repr(_key(ctx))}, "message": json.dumps(_key(ctx))}


@task(name="print_and_log_repr", type="collector")
def print_and_log_repr(self, ctx: TaskContext):
    print({"api_key": _key(ctx)})
    logging.getLogger("vendor.sdk").warning("config %r", ctx.config)
    return {"data": {}}
"""

SPLIT = """
from integrations_pipeline.sdk import TaskContext, task


@task(name="split_add_log", type="collector")
def split_add_log(self, ctx: TaskContext):
    key = ctx.config["api_key"]
    ctx.add_log("starts " + key[:6])
    ctx.add_log(key[6:] + " ends")
    ctx.add_error("in one: " + key[:9] + "\\n" + key[9:])
    ctx.add_log("after")
    return {"data": {}}
"""

TYPED = """
from integrations_pipeline.sdk import TaskContext, task


class Holder:
    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return f"Holder({self.key!r})"


@task(name="return_any_type", type="collector")
def return_any_type(self, ctx: TaskContext):
    key = ctx.config["api_key"]
    data = {
        "bytes": key.encode(),
        "bytearray": bytearray(key.encode()),
        "set": {key},
        "frozenset": frozenset([key]),
        "tuple": ("id", key),
        "error": KeyError(key),
        "object": Holder(key),
    }
    return {"data": data}
"""

WRITTEN = """
import logging
import os
import subprocess
import sys

from integrations_pipeline.sdk import TaskContext, task


@task(name="write_in_pieces", type="collector")
def write_in_pieces(self, ctx: TaskContext):
    key = ctx.config["api_key"]
    sys.stdout.write("key=" + key[:5])
    sys.stdout.write(key[5:] + "\\n")
    print(*key, sep="")
    sys.stderr.write(key[:3])
    sys.stderr.write(key[3:] + "\\n")
    return {"data": {}}


@task(name="write_to_the_fds", type="collector")
def write_to_the_fds(self, ctx: TaskContext):
    key = ctx.config["api_key"]
    os.write(1, ("os.write " + key[:4]).encode())
    os.write(1, (key[4:] + "\\n").encode())
    os.write(2, ("to fd 2 " + key + "\\n").encode())
    child = "import os; print('child', os.environ['LEAKY_API_KEY'])"
    subprocess.run([sys.executable, "-c", child], check=True)
    subprocess.run(["sh", "-c", "echo shell $LEAKY_API_KEY >&2"], check=True)
    return {"data": {}}


@task(name="log_privately", type="collector")
def log_privately(self, ctx: TaskContext):
    key = ctx.config["api_key"]
    logger = logging.getLogger("vendor.private")
    logger.propagate = False
    handlers = [logging.FileHandler(os.environ["LEAKY_LOG_FILE"]), logging.StreamHandler(sys.__stderr__)]
    for handler in handlers:
        logger.addHandler(handler)
    try:
        logger.warning("key %s", key)
        try:
            raise KeyError(key)
        except KeyError:
            logger.exception("failed")
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    return {"data": {}}
"""


def _escaped_forms(secret: str) -> set[str]:
    """Written out here, not taken from the code under test."""
    return {
        secret,
        repr(secret)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),
        secret.replace("\\", "\\\\"),
        json.dumps(secret)[1:-1],
    }


def _texts_leaking(texts: dict[str, str], secret: str) -> list[str]:
    return [where for where, text in texts.items() if any(form in text for form in _escaped_forms(secret))]


def _files_leaking(root: Path, secret: str) -> list[str]:
    forms = [form.encode() for form in _escaped_forms(secret)]
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and any(f in p.read_bytes() for f in forms)
    ]


@pytest.fixture
def ways(make_project, monkeypatch) -> Path:
    monkeypatch.setenv("LEAKY_API_KEY", KEY)
    files = {
        "collectors/escaped.py": ESCAPED,
        "collectors/split.py": SPLIT,
        "collectors/typed.py": TYPED,
        "collectors/written.py": WRITTEN,
    }
    return make_project({"leaky": {"schema": SCHEMA, "files": files}})


def _run(project: Path, home: Path, tasks: list[str]) -> IntegrationRunResult:
    """Run ``tasks`` of the ``leaky`` integration on an instance kept in ``home``."""
    home.mkdir(exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        # By reference: a secret given literally is kept in the run's config in run storage.
        config = {"api_key": {"env": "LEAKY_API_KEY"}}
        return run_integration("leaky", config, project=project, instance=instance, tasks=tasks)


def test_escaped_forms_of_a_secret_never_leave_a_run(ways, tmp_path, capfd, caplog):
    home = tmp_path / "dagster-home"
    result = _run(ways, home, ["raise_key_error", "log_config_dict", "print_and_log_repr"])
    assert result["raise_key_error"].status == "failed"
    assert "KeyError: '***'" in result["raise_key_error"].error
    assert result["log_config_dict"].logs[0].startswith("{'api_key': '***', ")
    assert result["log_config_dict"].data == {"seen": "'***'"}
    out, err = capfd.readouterr()
    texts = {
        "event log": "\n".join(dg.serialize_value(entry) for entry in result.event_log),
        "outcomes": repr(result.tasks),
        "run errors": repr(result.errors),
        "stdout": out,
        "stderr": err,
        "log records": caplog.text,
    }
    assert _texts_leaking(texts, KEY) == []
    assert _files_leaking(home, KEY) == []
    assert _files_leaking(tmp_path / "integrations-home", KEY) == []
    assert not secret_leaks(result, [KEY], out, err, caplog.text)


def test_a_secret_split_over_two_lines_is_redacted_in_both(ways, tmp_path):
    result = _run(ways, tmp_path / "dagster-home", ["split_add_log"])
    outcome = result["split_add_log"]
    assert outcome.logs == ["starts ***", "*** ends", "after"]
    assert outcome.errors == ["in one: ***\n***"]
    messages = [entry.user_message for entry in result.event_log]
    halves = (KEY[:6], KEY[6:], KEY[:9], KEY[9:])
    assert [m for m in messages if any(half in m for half in halves)] == []


def test_a_secret_in_returned_data_of_any_type_is_redacted_before_it_is_stored(ways, tmp_path):
    home = tmp_path / "dagster-home"
    result = _run(ways, home, ["return_any_type"])
    data = result["return_any_type"].data
    assert (data["bytes"], data["bytearray"]) == (b"***", bytearray(b"***"))
    assert (data["set"], data["frozenset"], data["tuple"]) == ({"***"}, frozenset(["***"]), ("id", "***"))
    assert repr(data["error"]) == "KeyError('***')"
    assert data["object"] == "Holder('***')"
    assert _files_leaking(home, KEY) == []
    assert _files_leaking(tmp_path / "integrations-home", KEY) == []


def test_a_secret_written_in_pieces_is_redacted_by_the_line(ways, tmp_path, capfd):
    result = _run(ways, tmp_path / "dagster-home", ["write_in_pieces"])
    assert result["write_in_pieces"].status == "succeeded"
    out, err = capfd.readouterr()
    assert "key=***" in out and "***" in err
    assert _texts_leaking({"stdout": out, "stderr": err}, KEY) == []


def test_a_logger_with_its_own_handlers_and_no_propagation_is_redacted(ways, tmp_path, monkeypatch, capfd):
    log_file = tmp_path / "private.log"
    monkeypatch.setenv("LEAKY_LOG_FILE", str(log_file))
    result = _run(ways, tmp_path / "dagster-home", ["log_privately"])
    assert result["log_privately"].status == "succeeded"
    written = log_file.read_text()
    assert "key ***" in written and "KeyError: '***'" in written
    assert _texts_leaking({"log file": written, "stderr": capfd.readouterr().err}, KEY) == []


def test_what_bypasses_sys_stdout_is_redacted_at_the_file_descriptor(ways, tmp_path, capfd):
    result = _run(ways, tmp_path / "dagster-home", ["write_to_the_fds"])
    assert result["write_to_the_fds"].status == "succeeded"
    out, err = capfd.readouterr()
    assert "os.write ***" in out and "child ***" in out
    assert "to fd 2 ***" in err and "shell ***" in err
    assert _texts_leaking({"stdout": out, "stderr": err}, KEY) == []


PROJECT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_no_way_leaks_into_dagster_home_from_a_dagster_process(ways, tmp_path, executor):
    """Every way at once, run by ``dagster job execute``: its compute logs, event log and run
    storage in DAGSTER_HOME, the application database, and what the process printed."""
    config = {
        "execution": {"config": {executor: {}}},
        "resources": {"leaky": {"config": {"api_key": {"env": "LEAKY_API_KEY"}}}},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "dagster-home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INTEGRATIONS_PROJECT_DIR": str(ways),
        "LEAKY_LOG_FILE": str(tmp_path / "private.log"),
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [
        dagster,
        "job",
        "execute",
        "-m",
        "integrations_pipeline",
        "-j",
        "leaky",
        "-c",
        str(tmp_path / "run.yaml"),
    ]
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=240)
    assert "leaky__raise_key_error" in done.stdout + done.stderr  # it ran (and that task failed)
    compute_logs = [p for p in home.rglob("*") if p.suffix in (".out", ".err") and p.stat().st_size]
    assert compute_logs, "no compute logs were captured"
    captured = "".join(p.read_text(errors="replace") for p in compute_logs)
    assert "os.write ***" in captured and "child ***" in captured and "shell ***" in captured
    assert _texts_leaking({"stdout": done.stdout, "stderr": done.stderr}, KEY) == []
    assert _files_leaking(home, KEY) == []
    assert _files_leaking(tmp_path / "integrations-home", KEY) == []
    assert _files_leaking(tmp_path, KEY) == []
