"""Insights page: p95 and SQL queries per request with 10,000 and then 50,000 incidents in the mirror.

The 10,000 incidents of bench.data (one every 13 minutes: the last ~90 days) each get an acknowledge and, when
resolved, a resolve log entry. Then 40,000 older incidents (the ~11 months before, same rate, same log entries)
are added and the same pages are timed again: the figures should not move, because every aggregate is one
indexed SQL query over the window. The extra incidents are removed afterwards, so later benchmarks see the
usual 10,000.
"""

from __future__ import annotations

import random
from datetime import timedelta

import httpx

from bench import data
from bench.core import NotAvailable, Result
from bench.list_page import time_requests

TITLE = "Insights page with 10,000 and 50,000 mirrored incidents (p50/p95, SQL queries per request)"
REQUESTS = 60
WARMUP = 5
EXTRA = 40_000
EXTRA_PREFIX = "W"  # older bench incidents: W000001...
SPACING = timedelta(minutes=13)  # bench.data's spacing: 10,000 incidents span ~90 days
# 50k may cost at most this much more than 10k at p95 (noise on a shared 2-core machine).
CONSTANT_SLACK = 1.25
PATHS = {"insights, 30 days": "/insights/?days=30", "insights, 90 days": "/insights/?days=90"}
CSV_PATH = "/insights.csv?days=90"


def _log_entries(rows, rng: random.Random, people: list[str], prefix: str):
    from incidents.models import LogEntry

    entries = []
    for pk, number, created, status in rows:
        who = people[number % len(people)]
        ack = created + timedelta(seconds=rng.randrange(30, 1500))
        entries.append(
            LogEntry(
                pd_id=f"{prefix}A{number:06d}",
                incident_id=pk,
                type="acknowledge_log_entry",
                summary="Acknowledged",
                created_at=ack,
                agent={"id": who, "type": "user_reference"},
            )
        )
        if status == "resolved":
            entries.append(
                LogEntry(
                    pd_id=f"{prefix}R{number:06d}",
                    incident_id=pk,
                    type="resolve_log_entry",
                    summary="Resolved",
                    created_at=ack + timedelta(seconds=rng.randrange(60, 14400)),
                    agent={"id": who, "type": "user_reference"},
                )
            )
    LogEntry.objects.bulk_create(entries, batch_size=2000, ignore_conflicts=True)


def ensure_acknowledgements() -> None:
    """Acknowledge/resolve log entries for the 10,000 bench incidents (idempotent)."""
    from accounts.models import PagerDutyUser
    from incidents.models import Incident, LogEntry

    if LogEntry.objects.filter(pd_id__startswith="QIA").exists():
        return
    zones = ["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "UTC"]
    people = list(PagerDutyUser.objects.filter(pd_id__startswith="QUSER").order_by("pd_id"))
    for k, person in enumerate(people):
        person.time_zone = zones[k % len(zones)]
    PagerDutyUser.objects.bulk_update(people, ["time_zone"])
    rows = Incident.objects.filter(pd_id__startswith=data.ID_PREFIX).values_list("pk", "number", "created_at", "status")
    _log_entries(list(rows), random.Random(16), [p.pd_id for p in people], "QI")


def add_history(n: int = EXTRA) -> int:
    """`n` incidents older than the bench's 10,000, with their log entries; returns how many exist now."""
    from django.db import transaction

    from incidents.models import Incident

    base = Incident.objects.filter(pd_id__startswith=data.ID_PREFIX).order_by("created_at").first()
    if base is None:
        raise NotAvailable("no bench incidents")
    rng = random.Random(50)
    people = [f"QUSER{i:02d}" for i in range(12)]
    with transaction.atomic():
        rows = []
        for i in range(1, n + 1):
            created = base.created_at - SPACING * i
            status = "resolved" if rng.random() < 0.97 else "acknowledged"
            pd_id = f"{EXTRA_PREFIX}{i:06d}"
            rows.append(
                Incident(
                    pd_id=pd_id,
                    number=100_000 + i,
                    title=f"old incident {i}",
                    status=status,
                    urgency="high" if rng.random() < 0.7 else "low",
                    service_id=base.service_id if i % 3 else None,
                    escalation_policy_id=base.escalation_policy_id,
                    created_at=created,
                    resolved_at=created + timedelta(minutes=30) if status == "resolved" else None,
                    alert_count=1,
                    search_text=f"old incident {i}",
                    raw={"id": pd_id, "type": "incident"},
                )
            )
        Incident.objects.bulk_create(rows, batch_size=2000)
        created_rows = Incident.objects.filter(pd_id__startswith=EXTRA_PREFIX).values_list(
            "pk", "number", "created_at", "status"
        )
        _log_entries(list(created_rows), rng, people, "WI")
    return Incident.objects.count()


def remove_history() -> None:
    from incidents.models import Incident, LogEntry

    LogEntry.objects.filter(pd_id__startswith="WI").delete()
    Incident.objects.filter(pd_id__startswith=EXTRA_PREFIX).delete()


def _queries(env) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(env.bench_user())
    out = {}
    for name, path in {**PATHS, "csv": CSV_PATH}.items():
        client.get(path)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        if response.status_code != 200:
            raise NotAvailable(f"GET {path} answered {response.status_code}")
        out[name] = len(ctx.captured_queries)
    return out


def _measure(env, client: httpx.Client, n: int, result: Result, size: str) -> dict[str, float]:
    p95 = {}
    for name, path in {**PATHS, "csv export, 90 days": CSV_PATH}.items():
        samples, _ = time_requests(client, path, n, warmup=WARMUP)
        p95[name] = result.sample(f"{name} ({size})", samples)["p95"]
    return p95


def run(env, result: Result, *, quick: bool = False) -> None:
    n = 20 if quick else REQUESTS
    facts = data.ensure_incidents()
    ensure_acknowledgements()
    base = env.workers()[0]
    with httpx.Client(base_url=base, cookies=env.cookies(), timeout=60.0) as client:
        probe = client.get(PATHS["insights, 90 days"])
        if probe.status_code != 200:
            raise NotAvailable(f"GET /insights/ answered {probe.status_code}")
        small_q = _queries(env)
        before = _measure(env, client, n, result, "10k")
        try:
            total = add_history()
            result.notes.append(f"{facts['incidents']:,} then {total:,} incidents in the mirror, then 10,000 again")
            large_q = _queries(env)
            large = _measure(env, client, n, result, "50k")
        finally:
            remove_history()
        # 10k again after 50k: on a shared, loaded machine drift between runs is larger than any real effect,
        # so 50k is compared with the mean of the 10k runs on each side of it.
        after = _measure(env, client, n, result, "10k again")
    for name in before:
        small = (before[name] + after[name]) / 2
        ratio_50k = large[name] / small if small else None
        result.add(
            f"{name}: p95 at 10k / 50k / 10k again",
            f"{before[name]:.1f} / {large[name]:.1f} / {after[name]:.1f}",
            "ms",
            f"50k <= {CONSTANT_SLACK}x 10k",
            met=ratio_50k is not None and ratio_50k <= CONSTANT_SLACK,
            note=f"ratio {ratio_50k:.2f}" if ratio_50k else "",
        )
    result.stats["queries"] = {"10k": small_q, "50k": large_q}
    result.add(
        "SQL queries per request, 10k / 50k (30 d, 90 d, csv)",
        " / ".join(f"{small_q[k]}→{large_q[k]}" for k in small_q),
        "",
        "constant",
        met=small_q == large_q,
    )
