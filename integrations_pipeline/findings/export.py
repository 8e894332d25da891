"""Findings exported as CSV, and read back with their types."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

FINDING_COLUMNS = (
    "id", "uid", "integration", "deployment", "task", "resource", "title", "severity", "message", "status",
    "muted", "first_seen", "last_seen", "resolved_at", "occurrences", "reopened", "run_id", "data",
)  # fmt: skip
# An absent value in the CSV export (PostgreSQL COPY's marker), so it differs from "".
NULL = "\\N"
_INTEGER_COLUMNS = ("occurrences", "reopened")


def write_findings_csv(records: list[dict[str, Any]], handle: Any) -> None:
    """The findings as CSV: absent values as \\N, booleans as true/false, data as JSON."""
    writer = csv.DictWriter(handle, fieldnames=FINDING_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = {}
        for column in FINDING_COLUMNS:
            value = record[column]
            if column == "data":
                row[column] = json.dumps(value, default=str)
            elif value is None:
                row[column] = NULL
            elif isinstance(value, bool):
                row[column] = "true" if value else "false"
            else:
                row[column] = str(value)
        writer.writerow(row)


def read_findings_csv(text: str) -> list[dict[str, Any]]:
    """The records :func:`write_findings_csv` wrote, with their types."""
    records = []
    for row in csv.DictReader(io.StringIO(text)):
        record: dict[str, Any] = {}
        for column in FINDING_COLUMNS:
            value = row[column]
            if column == "data":
                record[column] = json.loads(value)
            elif value == NULL:
                record[column] = None
            elif column == "muted":
                record[column] = value == "true"
            elif column in _INTEGER_COLUMNS:
                record[column] = int(value)
            else:
                record[column] = value
        records.append(record)
    return records
