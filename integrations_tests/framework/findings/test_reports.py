"""Exports, the run telemetry CSV and the HTML report (rendered in headless Chromium)."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from integrations_pipeline.findings.export import read_findings_csv
from integrations_pipeline.findings.reports import telemetry, write_reports
from integrations_pipeline.findings.store import get_store
from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import PROJECT, case

GUIDE = case("guide")
KEY = {"api_key": "report-key-0001"}


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", *args], cwd=PROJECT, capture_output=True,
        text=True, check=True, env={**os.environ, **(env or {})},
    ).stdout  # fmt: skip


@pytest.fixture
def history(tmp_path):
    """Three runs of deployment acme (one failing) and one ad-hoc run, on a real instance."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for config in (KEY, {**KEY, "fail_groups": True}, {**KEY, "admins_allowed": ["alice"]}):
            run_integration("guide_demo", config, project=GUIDE, instance=instance, deployment="acme")
        run_integration("guide_demo", KEY, project=GUIDE, instance=instance)
        yield instance


def test_telemetry_per_integration_and_deployment(history):
    rows = {row["deployment"]: row for row in telemetry(history)}
    acme = rows["acme"]
    assert (acme["runs"], acme["successes"], acme["failures"]) == (3, 2, 1)
    assert acme["error_rate"] == round(1 / 3, 4)
    assert 0 < acme["median_duration_s"] <= acme["p95_duration_s"]
    assert rows[""]["runs"] == 1 and rows[""]["integration"] == "guide_demo"


def test_csv_and_json_exports_load_back_without_loss(history):
    records = get_store().list_findings()
    assert records
    assert json.loads(cli("violations", "--format", "json")) == records
    exported = cli("violations", "--format", "csv")
    assert read_findings_csv(exported) == records
    rows = list(csv.DictReader(io.StringIO(exported)))  # plain CSV for any other tool
    assert len(rows) == len(records) and rows[0]["deployment"] in ("acme", "\\N")
    assert json.loads(cli("violations", "--json", "--deployment", "acme", "--since", "1d")) == [
        r for r in records if r["deployment"] == "acme"
    ]


def test_report_files_and_the_html_in_chromium(history, tmp_path):
    output = tmp_path / "report"
    csv_path, html_path = write_reports(history, output, days=7)
    rows = list(csv.DictReader(csv_path.open()))
    assert {r["deployment"] for r in rows} == {"acme", ""}
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]  # fmt: skip
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", html_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # The trend chart is drawn by the page's script: it ran, one pair of bars per day.
    assert 'data-rendered="7"' in dom
    assert len(re.findall(r'<rect class="new"', dom)) == 7
    counts = dict(re.findall(r'data-severity="(\w+)">(\d+)<', dom))
    open_unmuted = [f for f in get_store().list_findings(status="open", muted=False)]
    assert int(counts["critical"]) == sum(f["severity"] == "critical" for f in open_unmuted) >= 1
    assert dom.count("<tr class=") == len(get_store().list_findings())
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={screenshot}", "--window-size=1280,900", html_path.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert screenshot.stat().st_size > 10_000


def test_report_command_needs_and_uses_the_dagster_instance(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    failed = subprocess.run(
        [sys.executable, "-m", "integrations_pipeline.cli", "report", "--output", str(tmp_path / "out")],
        cwd=PROJECT, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
    )  # fmt: skip
    assert failed.returncode == 1 and "set DAGSTER_HOME" in failed.stderr
    out = cli("report", "--output", str(tmp_path / "out"), env={"DAGSTER_HOME": str(home)})
    assert "telemetry.csv" in out and Path(tmp_path / "out" / "report.html").exists()


def test_the_trend_comes_from_the_evaluation_history(history):
    from integrations_pipeline.findings.reports import trend

    days = trend(get_store().evaluations(), 3)
    assert [d["new"] for d in days[:2]] == [0, 0]
    today = days[-1]
    # acme: check_admins opened, check_groups_collected opened then both resolved; ad hoc: one opened.
    assert (today["new"], today["resolved"], today["open"]) == (3, 2, 1)
    assert today["open"] == len(get_store().list_findings(status="open"))
