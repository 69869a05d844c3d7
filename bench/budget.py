"""API budget: PagerDuty requests caused by 50 open dashboards, ours (SSE) against a 5 s /log_entries poller."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

import httpx

from bench.core import Result, ratio
from bench.sse import Stream

TITLE = "PagerDuty API budget: 50 open dashboards (ours over SSE vs a pd-live style 5 s poller)"
VIEWERS = 50
WINDOW_SECONDS = 20
POLL_SECONDS = 5.0
IDLE_MINUTES = 10


async def _poller(sandbox, token: str, stop_at: float, phase: float) -> int:
    """One pd-live viewer: every 5 s, GET /log_entries since the previous poll (with its own user key)."""
    headers = {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"}
    sent = 0
    since = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=sandbox.url, headers=headers, timeout=30.0) as client:
        await asyncio.sleep(phase)
        while time.monotonic() < stop_at:
            now = datetime.now(UTC)
            params = {"since": since.isoformat(), "is_overview": "true", "limit": 100}
            await client.get("/log_entries", params=params)
            sent += 1
            since = now
            wait = max(0.0, POLL_SECONDS - (datetime.now(UTC) - now).total_seconds())
            await asyncio.sleep(min(wait, max(0.0, stop_at - time.monotonic())))
    return sent


async def _main(env, result: Result, *, quick: bool) -> None:
    sandbox = env.sandbox()
    sandbox.knobs(latency_ms=0)
    window = 8 if quick else WINDOW_SECONDS
    keys = sandbox.http.get("/_sandbox/keys").json()
    user_keys = [u["api_key"] for u in keys.get("users", []) if u.get("api_key")]
    if not user_keys:
        user_keys = [sandbox.token]
    # Learn the poller tokens' ids as the sandbox logs them, so the two sides can be told apart in one window.
    sandbox.clear_log()
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30.0) as client:
        for key in user_keys:
            await client.get("/abilities", headers={"Authorization": f"Token token={key}"})
    poller_ids = {e["token_id"] for e in sandbox.requests_log()}

    urls = env.workers()
    ports = [int(u.rsplit(":", 1)[1]) for u in urls]
    cookie = "; ".join(f"{k}={v}" for k, v in env.cookies().items())
    streams = [Stream("127.0.0.1", ports[i % len(ports)], cookie) for i in range(VIEWERS)]
    await asyncio.gather(*(s.connect() for s in streams))
    opened = sum(1 for s in streams if s.status == 200)
    rng = random.Random(5)
    try:
        sandbox.clear_log()
        t0 = time.monotonic()
        stop_at = t0 + window
        polls = await asyncio.gather(
            *(
                _poller(sandbox, user_keys[i % len(user_keys)], stop_at, rng.uniform(0, POLL_SECONDS))
                for i in range(VIEWERS)
            )
        )
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        elapsed = max(window, time.monotonic() - t0)
        log = sandbox.requests_log()
    finally:
        for s in streams:
            s.close()
    ours = [e for e in log if e["token_id"] not in poller_ids and not e["path"].startswith("/_sandbox/")]
    theirs = [e for e in log if e["token_id"] in poller_ids]
    per_min_ours = len(ours) * 60 / elapsed
    per_min_theirs = len(theirs) * 60 / elapsed
    result.stats.update(
        {
            "window_s": round(elapsed, 1),
            "sse_streams_open": opened,
            "ours_requests": len(ours),
            "ours_paths": sorted({e["path"] for e in ours}),
            "poller_requests": len(theirs),
            "poller_sent": sum(polls),
            "poller_per_viewer": polls,
        }
    )
    result.add(
        f"PagerDuty requests, {VIEWERS} dashboards, {elapsed:.0f} s",
        len(ours),
        "requests",
        "≈ 0",
        met=len(ours) <= 1,
        peer=f"5 s poller: {len(theirs)} requests",
        note=f"{opened} SSE streams open",
    )
    result.add(
        f"extrapolated to {IDLE_MINUTES} idle minutes",
        round(per_min_ours * IDLE_MINUTES),
        "requests",
        "≈ 0",
        met=per_min_ours * IDLE_MINUTES <= 5,
        peer=f"poller: {per_min_theirs:,.0f}/min = {per_min_theirs * IDLE_MINUTES:,.0f}",
        ratio=ratio(per_min_ours, per_min_theirs),
        note="measured over a shortened window and scaled linearly",
    )
    result.notes.append(
        f"window shortened to {elapsed:.0f} s and extrapolated; the poller follows pd-live's design (each viewer "
        "polls GET /log_entries every 5 s with its own key, random phase). Not counted: the reconcile job "
        "(one /log_entries read every RECONCILE_SECONDS=180 s whatever the number of viewers)."
    )


def run(env, result: Result, *, quick: bool = False) -> None:
    asyncio.run(_main(env, result, quick=quick))
