"""The incident list as CSV or JSON: every matching row, written chunk by chunk as the selector reads them.

Times are ISO 8601 in UTC with a `Z` (2026-12-07T02:20:00Z): one format, whatever the person's zone, that
spreadsheets and scripts both read. CSV cells are guarded against formula injection (`csv_safe`); JSON keeps
the raw values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from accounts.models import Actor
from incidents import selectors
from pdportal.webui import csv_safe

CSV_COLUMNS = (
    "number",
    "id",
    "title",
    "status",
    "urgency",
    "priority",
    "service",
    "assignees",
    "created_at",
    "alerts",
)


def utc_z(value: datetime | None) -> str:
    """ISO 8601 in UTC with a `Z`, to the second ("" for no time)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _record(row: selectors.IncidentRow) -> dict[str, Any]:
    return {
        "number": row.number,
        "id": row.pd_id,
        "title": row.title,
        "status": row.status,
        "urgency": row.urgency,
        "priority": row.priority_name,
        "service": row.service_name,
        "assignees": list(row.assignee_names),
        "created_at": utc_z(row.created_at),
        "alerts": row.alert_count,
    }


def incidents_csv(*, filters: dict[str, Any], user: Actor) -> Iterator[bytes]:
    """The header, then one block of CSV lines per chunk of incidents."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue().encode()
    for chunk in selectors.incident_export_chunks(filters=filters, user=user):
        buffer.seek(0)
        buffer.truncate()
        for row in chunk:
            record = _record(row)
            record["assignees"] = ", ".join(record["assignees"])
            writer.writerow([csv_safe(record[key]) for key in CSV_COLUMNS])
        yield buffer.getvalue().encode()


def incidents_json(*, filters: dict[str, Any], user: Actor) -> Iterator[bytes]:
    """`{"time_format": …, "incidents": [...]}`, the array written one chunk at a time."""
    yield b'{"time_format": "ISO 8601, UTC", "incidents": ['
    first = True
    for chunk in selectors.incident_export_chunks(filters=filters, user=user):
        text = ",".join(json.dumps(_record(row), ensure_ascii=False) for row in chunk)
        yield (text if first else "," + text).encode()
        first = False
    yield b"]}\n"
