"""Initial sync: our concurrent pagination against python-pagerduty's sequential iter_all, 5,000 incidents, 250 ms."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bench.core import TIMES, NotAvailable, Result, ratio

TITLE = "Initial sync of 5,000 incidents at 250 ms latency: ours vs python-pagerduty iter_all"
SIZE = 5000
LATENCY_MS = 250
TARGET_RATIO = 4.0
BUDGET_PER_MINUTE = 900
PAGERDUTY_LIMIT = 960  # per token per minute (DESIGN.md rule 5)


def _window() -> dict[str, str]:
    """The same since/until window incidents.sync uses (90 days), so both clients ask for the same records."""
    until = datetime.now(UTC) + timedelta(minutes=1)
    since = until - timedelta(days=90)
    return {"since": since.isoformat(), "until": until.isoformat(), "time_zone": "UTC"}


def _our_client(sandbox):
    from django.conf import settings

    from pdportal.pagerduty import PagerDutyClient, budget_for

    try:
        from accounts.clients import account_client

        client = account_client()
        how = "accounts.clients.account_client() (API-key connection)"
    except Exception:
        client = PagerDutyClient(
            token=sandbox.token,
            api_url=sandbox.url,
            budget=budget_for(sandbox.token, settings.PAGERDUTY_REQUESTS_PER_MINUTE),
        )
        how = "PagerDutyClient(token=..., budget=budget_for(token))"
    if client.api_url != sandbox.url:
        raise RuntimeError(f"our client points at {client.api_url}, not the sandbox {sandbox.url}")
    return client, how


def _peer_client(sandbox):
    try:
        from pagerduty import RestApiV2Client
    except ImportError:
        raise NotAvailable("python-pagerduty is not installed (pip install -r requirements-dev.txt)") from None
    client = RestApiV2Client(sandbox.token)
    # The library insists on https:// for its base URL; the sandbox on loopback speaks plain HTTP.
    client._url = sandbox.url
    client.max_network_attempts = 1
    return client


def _peak_per_minute(log: list[dict]) -> int:
    """Most requests arriving in any 60-second window of the sandbox's request log.

    The log stamps a request when it is answered; its arrival (what a rate limit counts) is that minus its
    duration, which includes the injected latency and any queueing inside the sandbox.
    """
    times = sorted(
        datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp() - e.get("duration_ms", 0) / 1000 for e in log
    )
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 60:
            j += 1
        best = max(best, i - j + 1)
    return best


def _store_page(page: list[dict], refs) -> int:
    """Store one page exactly as the portal's sync does, so both clients are timed with the same storage."""
    from django.db import transaction

    from incidents.sync import store_incident_page

    with transaction.atomic():
        return store_incident_page(page, refs)


def _clear_synced() -> None:
    from incidents.models import Incident

    Incident.objects.exclude(pd_id__startswith="Q").delete()


def _synced_count(ids: set[str]) -> int:
    from incidents.models import Incident

    found = 0
    id_list = list(ids)
    for k in range(0, len(id_list), 500):
        found += Incident.objects.filter(pd_id__in=id_list[k : k + 500]).count()
    return found


def run(env, result: Result, *, quick: bool = False) -> None:
    from django.conf import settings

    from incidents import mirror

    sandbox = env.sandbox(size=SIZE)
    n_expected = sandbox.size
    window = _window()
    client, how = _our_client(sandbox)
    peer = _peer_client(sandbox)
    concurrency = settings.PAGERDUTY_SYNC_CONCURRENCY
    sandbox.knobs(latency_ms=LATENCY_MS)
    try:
        # 1. Ours, fetch only: the client's concurrent list_all.
        sandbox.clear_log()
        client.budget.reset_stats()
        t0 = time.perf_counter()
        records = client.list_all("/incidents", window, concurrency=concurrency)
        ours_fetch = time.perf_counter() - t0
        ours_ids = {r["id"] for r in records}
        ours_fetch_requests = len(sandbox.requests_log(path="/incidents"))

        # 2. Ours, fetch + store: what incidents.sync does for its incidents step (one transaction per page).
        _clear_synced()
        sandbox.clear_log()
        refs = mirror.Refs()
        stored = 0
        t0 = time.perf_counter()
        for page in client.iter_pages("/incidents", window, concurrency=concurrency):
            stored += _store_page(page, refs)
        ours_sync = time.perf_counter() - t0
        log = sandbox.requests_log()
        ours_sync_requests = len(log)
        peak_log = _peak_per_minute(log)
        peak_budget = client.budget.peak_per_minute
        ours_in_mirror = _synced_count(ours_ids)
        ours_server_ms = [e["duration_ms"] - LATENCY_MS for e in log if e["path"] == "/incidents"]

        # 3. python-pagerduty: iter_all (sequential) storing each record as it arrives, like a sync script would.
        _clear_synced()
        sandbox.clear_log()
        refs = mirror.Refs()
        peer_ids: set[str] = set()
        page: list[dict] = []
        store_time = 0.0
        t0 = time.perf_counter()
        for record in peer.iter_all("incidents", params=window):
            peer_ids.add(record["id"])
            page.append(record)
            if len(page) == 100:
                s0 = time.perf_counter()
                _store_page(page, refs)
                store_time += time.perf_counter() - s0
                page = []
        if page:
            s0 = time.perf_counter()
            _store_page(page, refs)
            store_time += time.perf_counter() - s0
        peer_sync = time.perf_counter() - t0
        peer_fetch = peer_sync - store_time
        peer_log = sandbox.requests_log(path="/incidents")
        peer_requests = len(peer_log)
        peer_server_ms = [e["duration_ms"] - LATENCY_MS for e in peer_log]
        peer_in_mirror = _synced_count(peer_ids)
    finally:
        sandbox.knobs(latency_ms=0)

    result.stats.update(
        {
            "ours_fetch_s": round(ours_fetch, 2),
            "ours_sync_s": round(ours_sync, 2),
            "peer_fetch_s": round(peer_fetch, 2),
            "peer_sync_s": round(peer_sync, 2),
            "ours_requests": {"fetch": ours_fetch_requests, "sync": ours_sync_requests},
            "peer_requests": peer_requests,
            "peak_per_minute": {"budget": peak_budget, "sandbox_log": peak_log},
            "concurrency": concurrency,
            "client": how,
        }
    )
    ours_server = result.sample("sandbox ms per page beyond the injected latency (ours)", ours_server_ms)
    peer_server = result.sample("sandbox ms per page beyond the injected latency (peer)", peer_server_ms)
    pages = max(ours_fetch_requests, 1)
    ideal = (1 + -(-(pages - 1) // concurrency)) * LATENCY_MS / 1000
    result.stats["ideal_fetch_s"] = ideal
    result.notes.append(
        f"the sandbox spends {peer_server['median']:.0f} ms (median) of its own CPU per 100-incident page when "
        f"asked one at a time, {ours_server['median']:.0f} ms when {concurrency} pages are in flight: it is one "
        f"Python process, so concurrent pages queue on its GIL. With PagerDuty's own servers the fetch would "
        f"approach {1 + -(-(pages - 1) // concurrency)} round trips = {ideal:.1f} s"
    )
    sync_ratio = ratio(ours_sync, peer_sync)
    fetch_ratio = ratio(ours_fetch, peer_fetch)
    result.add(
        f"fetch + store {n_expected:,} incidents in the mirror",
        round(ours_sync, 2),
        "s",
        f"≥ {TARGET_RATIO:.0f}{TIMES} faster",
        met=sync_ratio is not None and sync_ratio >= TARGET_RATIO,
        peer=f"iter_all + same upserts: {peer_sync:.1f} s",
        ratio=sync_ratio,
        note=f"{ours_sync_requests} requests, concurrency {concurrency}",
    )
    result.add(
        "fetch only (list_all vs iter_all)",
        round(ours_fetch, 2),
        "s",
        f"≥ {TARGET_RATIO:.0f}{TIMES} faster",
        met=fetch_ratio is not None and fetch_ratio >= TARGET_RATIO,
        peer=f"iter_all: {peer_fetch:.1f} s",
        ratio=fetch_ratio,
        note=f"{ours_fetch_requests} vs {peer_requests} requests",
    )
    result.add(
        "peak requests in any minute (ours, client budget)",
        peak_budget,
        "/min",
        f"≤ {BUDGET_PER_MINUTE}/min",
        met=peak_budget <= BUDGET_PER_MINUTE,
        note=f"arriving at the sandbox: {peak_log}/min (PagerDuty allows {PAGERDUTY_LIMIT})",
    )
    saw = f"{len(ours_ids):,} / {ours_in_mirror:,} / {len(peer_ids):,} / {peer_in_mirror:,}"
    result.add(
        "incidents seen & stored: ours / peer",
        saw,
        "",
        f"{n_expected:,} each",
        met=len(ours_ids) == ours_in_mirror == len(peer_ids) == peer_in_mirror == n_expected and stored == n_expected,
    )
    if getattr(env, "full_sync", False):
        _full_sync(sandbox, client, result)
    result.notes.append(
        f"our client: {how}; python-pagerduty {_peer_version()} RestApiV2Client.iter_all('incidents'); "
        f"both with the same since/until window; sandbox latency {LATENCY_MS} ms per request"
    )


def _full_sync(sandbox, client, result: Result) -> None:
    """`--full-sync`: the whole incidents.sync.sync_all (directory, incidents, alerts and notes, log entries)."""
    try:
        from incidents.sync import sync_all
    except ImportError:
        result.notes.append("full sync not measured: incidents.sync.sync_all is not built yet")
        return
    sandbox.knobs(latency_ms=LATENCY_MS)
    sandbox.clear_log()
    client.budget.reset_stats()
    t0 = time.perf_counter()
    try:
        report = sync_all(client=client)
    finally:
        sandbox.knobs(latency_ms=0)
    wall = time.perf_counter() - t0
    log = sandbox.requests_log()
    arrived = _peak_per_minute(log)
    result.stats["full_sync"] = {
        "wall_s": round(wall, 1),
        "requests": len(log),
        "counts": dict(report.counts),
        "peak_per_minute": {"budget": client.budget.peak_per_minute, "sandbox_log": arrived},
        "budget_waited_s": round(client.budget.waited_seconds, 1),
        "throttled_429": sum(1 for e in log if e["status"] == 429),
    }
    result.add(
        "full sync_all: wall time",
        round(wall, 1),
        "s",
        "",
        note=f"{len(log)} requests; stored {report.total:,} records; waited {client.budget.waited_seconds:.0f} s",
    )
    result.add(
        "full sync_all: peak requests in any minute (client budget)",
        client.budget.peak_per_minute,
        "/min",
        f"≤ {BUDGET_PER_MINUTE}/min",
        met=client.budget.peak_per_minute <= BUDGET_PER_MINUTE,
    )
    result.add(
        "full sync_all: peak arriving at the sandbox in any minute",
        arrived,
        "/min",
        f"≤ {PAGERDUTY_LIMIT}/min",
        met=arrived <= PAGERDUTY_LIMIT,
        note=(
            f"{result.stats['full_sync']['throttled_429']} answered 429; above {BUDGET_PER_MINUTE} only by the "
            "jitter between taking a budget slot and the request arriving"
            if arrived > BUDGET_PER_MINUTE
            else f"{result.stats['full_sync']['throttled_429']} answered 429"
        ),
    )


def _peer_version() -> str:
    try:
        from importlib.metadata import version

        return version("pagerduty")
    except Exception:
        return "?"
