"""Reports: run telemetry as CSV (seed 003) and a self-contained HTML report of the findings."""

from __future__ import annotations

import csv
import html
import json
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from integrations_pipeline.common.runs import deployment_of
from integrations_pipeline.findings.model import SEVERITY_RANK
from integrations_pipeline.findings.store import FindingStore, get_store

TELEMETRY_COLUMNS = (
    "integration", "deployment", "runs", "successes", "failures", "error_rate",
    "median_duration_s", "p95_duration_s", "last_run",
)  # fmt: skip
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def telemetry(instance: dg.DagsterInstance) -> list[dict[str, Any]]:
    """Per integration and deployment: runs, successes, failures, error rate, durations, last run."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=FINISHED)):
        run = record.dagster_run
        integration = run.tags.get("integration")
        if not integration:
            continue
        groups[(integration, deployment_of(run) or "")].append(record)
    rows = []
    for (integration, deployment), records in sorted(groups.items()):
        successes = sum(1 for r in records if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS)
        durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
        last = max((r.end_time or r.create_timestamp.timestamp()) for r in records)
        rows.append(
            {
                "integration": integration,
                "deployment": deployment,
                "runs": len(records),
                "successes": successes,
                "failures": len(records) - successes,
                "error_rate": round((len(records) - successes) / len(records), 4),
                "median_duration_s": round(statistics.median(durations), 3) if durations else "",
                "p95_duration_s": round(_percentile(durations, 0.95), 3) if durations else "",
                "last_run": datetime.fromtimestamp(last, UTC).isoformat(),
            }
        )
    return rows


def write_telemetry_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TELEMETRY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def trend(evaluations: list[dict[str, Any]], days: int, today: date | None = None) -> list[dict[str, Any]]:
    """Per day, from the evaluation history: findings opened, resolved, and open at day's end."""
    today = today or datetime.now(UTC).date()
    opened: Counter[date] = Counter()
    resolved: Counter[date] = Counter()
    for evaluation in evaluations:
        day = datetime.fromisoformat(evaluation["evaluated_at"]).date()
        opened[day] += evaluation["new"] + evaluation["reopened"]
        resolved[day] += evaluation["resolved"]
    first_day = today - timedelta(days=days - 1)
    open_count = sum(opened[d] - resolved[d] for d in set(opened) | set(resolved) if d < first_day)
    result = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        open_count += opened[day] - resolved[day]
        result.append(
            {"day": day.isoformat(), "new": opened[day], "resolved": resolved[day], "open": open_count}
        )
    return result


def render_html(
    findings: list[dict[str, Any]],
    telemetry_rows: list[dict[str, Any]],
    days: int,
    evaluations: list[dict[str, Any]] | None = None,
) -> str:
    open_findings = [f for f in findings if f["status"] == "open"]
    by_severity = Counter(f["severity"] for f in open_findings if not f["muted"])
    muted = sum(1 for f in open_findings if f["muted"])
    ordered = sorted(
        findings,
        key=lambda f: (f["status"] != "open", -SEVERITY_RANK.get(f["severity"], 0), f["integration"]),
    )
    e = html.escape
    summary = "".join(
        f'<div class="card sev-{s}"><span class="count" data-severity="{s}">{by_severity.get(s, 0)}</span>'
        f"<span>{s}</span></div>"
        for s in ("critical", "high", "medium", "low")
    )
    rows = "".join(
        "<tr class='{cls}'>{cells}</tr>".format(
            cls=f"{f['status']}{' muted' if f['muted'] else ''}",
            cells="".join(
                f"<td>{e(str(v))}</td>"
                for v in (
                    f["severity"],
                    f["status"] + (" (muted)" if f["muted"] else ""),
                    f["integration"],
                    f["deployment"] or "(ad hoc)",
                    f["task"],
                    f["resource"] or "",
                    f["message"] or "",
                    f["first_seen"][:19],
                    f["last_seen"][:19],
                    f["occurrences"],
                )
            ),
        )
        for f in ordered
    )
    runs = "".join(
        "<tr>" + "".join(f"<td>{e(str(r[c]))}</td>" for c in TELEMETRY_COLUMNS) + "</tr>"
        for r in telemetry_rows
    )
    data = json.dumps(trend(evaluations or [], days)).replace("</", "<\\/")
    run_headers = "".join(f"<th>{c}</th>" for c in TELEMETRY_COLUMNS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integrations findings report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
.cards {{ display: flex; gap: 1rem; }}
.card {{ border-radius: 6px; padding: .75rem 1.25rem; color: white; display: flex; flex-direction: column; }}
.card .count {{ font-size: 1.8rem; font-weight: 700; }}
.sev-critical {{ background: #b91c1c; }} .sev-high {{ background: #ea580c; }}
.sev-medium {{ background: #ca8a04; }} .sev-low {{ background: #2563eb; }}
table {{ border-collapse: collapse; width: 100%; font-size: .85rem; }}
th, td {{ border-bottom: 1px solid #e4e7eb; padding: .35rem .5rem; text-align: left; }}
tr.resolved {{ color: #7b8794; }} tr.muted {{ font-style: italic; }}
#trend rect.new, .swatch.new {{ fill: #ea580c; background: #ea580c; }}
#trend rect.resolved, .swatch.resolved {{ fill: #16a34a; background: #16a34a; }}
#trend text {{ font-size: 9px; fill: #52606d; }}
.swatch {{ display: inline-block; width: .8em; height: .8em; margin-left: .8em; }}
</style></head><body>
<h1>Integrations findings report</h1>
<p>Generated {e(datetime.now(UTC).isoformat(timespec="seconds"))} · {len(open_findings)} open findings
({muted} muted) · {len(findings)} in all</p>
<h2>Open findings by severity (unmuted)</h2><div class="cards">{summary}</div>
<h2>Trend, last {days} days (findings opened and resolved per day, from the evaluation history)</h2>
<p class="legend"><span class="swatch new"></span> new <span class="swatch resolved"></span> resolved</p>
<svg id="trend" width="{max(days * 32, 240)}" height="150" role="img" aria-label="findings per day"></svg>
<h2>Findings</h2>
<table id="findings"><thead><tr><th>Severity</th><th>Status</th><th>Integration</th><th>Deployment</th>
<th>Insight</th><th>Resource</th><th>Message</th><th>First seen</th><th>Last seen</th>
<th>Seen</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Runs</h2>
<table id="runs"><thead><tr>{run_headers}</tr></thead><tbody>{runs}</tbody></table>
<script>
(() => {{
const days = {data};
const svg = document.getElementById("trend");
const peak = Math.max(1, ...days.map(d => Math.max(d.new, d.resolved)));
days.forEach((d, i) => {{
  for (const [kind, shift] of [["new", 0], ["resolved", 10]]) {{
    const h = Math.round(110 * d[kind] / peak);
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    r.setAttribute("class", kind); r.setAttribute("x", i * 32 + shift); r.setAttribute("y", 120 - h);
    r.setAttribute("width", 9); r.setAttribute("height", h); r.setAttribute("data-day", d.day);
    r.setAttribute("data-count", d[kind]);
    svg.appendChild(r);
  }}
}});
days.forEach((d, i) => {{
  const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
  label.setAttribute("x", i * 32); label.setAttribute("y", 136); label.textContent = d.day.slice(5);
  svg.appendChild(label);
}});
svg.setAttribute("data-rendered", days.length);
}})();
</script></body></html>
"""


def write_reports(
    instance: dg.DagsterInstance, output: Path, *, days: int = 30, store: FindingStore | None = None
) -> tuple[Path, Path]:
    """Write ``telemetry.csv`` and ``report.html`` into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    rows = telemetry(instance)
    csv_path = write_telemetry_csv(rows, output / "telemetry.csv")
    store = store or get_store()
    html_path = output / "report.html"
    html_path.write_text(
        render_html(store.list_findings(), rows, days, store.evaluations()), encoding="utf-8"
    )
    return csv_path, html_path
