"""Webhook receiver: p99 at a fixed 50 deliveries/s, the highest rate sustained with p99 ≤ 50 ms, nothing lost."""

from __future__ import annotations

import asyncio
import time

import httpx

from bench import data, hooks
from bench.core import NotAvailable, Result, percentile, profile

TITLE = "Webhook receiver: p99 at 50/s, highest rate with p99 ≤ 50 ms, every event stored exactly once"
TARGET_P99_MS = 50.0
FIXED_RATE = 50
FIXED_SECONDS = 30
STEP_RATES = (50, 100, 200, 400)
STEP_SECONDS = 5
DUPLICATE_EVERY = 20  # every 20th delivery repeats an earlier event: PagerDuty retries must not double-apply
PREFIX = "bench-rx-"


class Load:
    """Open-loop load: deliveries are sent on a fixed schedule whatever the answers' latency."""

    def __init__(self, urls: list[str]) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        self.clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=15.0) for u in urls]

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def _send(self, client: httpx.AsyncClient, body: bytes, headers: dict) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        try:
            response = await client.post(hooks.RECEIVER_PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return (time.perf_counter() - t0) * 1000, 0, type(exc).__name__
        elapsed = (time.perf_counter() - t0) * 1000
        if not 200 <= response.status_code < 300:
            return elapsed, response.status_code, response.text[:200]
        try:
            status = response.json().get("status", "")
        except ValueError:
            status = ""
        return elapsed, response.status_code, status

    async def run(self, deliveries: list[bytes], rate: float) -> dict:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks = []
        late = 0.0
        for i, body in enumerate(deliveries):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            client = self.clients[i % len(self.clients)]
            tasks.append(asyncio.create_task(self._send(client, body, hooks.headers_for(body))))
        answers = await asyncio.gather(*tasks)
        wall = loop.time() - start
        return {"answers": answers, "wall": wall, "late_ms": late * 1000}


def _deliveries(phase: str, count: int, open_ids: list[str]) -> tuple[list[bytes], int]:
    """`count` signed bodies for one phase, every DUPLICATE_EVERY-th one a repeat; returns (bodies, unique)."""
    bodies: list[bytes] = []
    unique = 0
    for i in range(count):
        if i and i % DUPLICATE_EVERY == 0:
            bodies.append(bodies[i - DUPLICATE_EVERY // 2])
            continue
        incident = open_ids[i % len(open_ids)]
        status = "acknowledged" if i % 2 else "triggered"
        bodies.append(
            hooks.incident_event(
                event_id=f"{PREFIX}{phase}-{i}",
                incident_id=incident,
                number=hooks.number_of(incident),
                status=status,
                title=f"receiver load {phase} {i}",
            )
        )
        unique += 1
    return bodies, unique


def _summarise(result: Result, key: str, outcome: dict, rate: float) -> dict:
    latencies = [a[0] for a in outcome["answers"]]
    errors = sum(1 for a in outcome["answers"] if not 200 <= a[1] < 300)
    stats = result.sample(key, latencies)
    achieved = len(latencies) / outcome["wall"] if outcome["wall"] > 0 else 0.0
    stats.update(
        {
            "rate": rate,
            "achieved_per_s": round(achieved, 1),
            "errors": errors,
            "duplicates_answered": sum(1 for a in outcome["answers"] if a[2] == "duplicate"),
            "generator_late_ms": round(outcome["late_ms"], 1),
            "error_samples": [f"{a[1]} {a[2]}" for a in outcome["answers"] if not 200 <= a[1] < 300][:5],
        }
    )
    return stats


def _stored(prefix: str) -> tuple[int, int]:
    """(rows stored, distinct event ids) for events whose id starts with prefix."""
    from django.db.models import Count

    from incidents.models import WebhookEvent

    rows = WebhookEvent.objects.filter(event_id__startswith=prefix)
    return rows.count(), rows.aggregate(n=Count("event_id", distinct=True))["n"]


async def _main(env, result: Result, *, quick: bool) -> None:
    facts = data.ensure_incidents()
    open_ids = facts["newest_open"] or [data.incident_id(1)]
    workers = env.workers()
    # The deployments: `make run` serves SQLite from one uvicorn process; docker-compose runs 2 workers on
    # PostgreSQL. Two processes writing one SQLite file is measured separately below.
    urls = workers if env.pg_dbname else workers[:1]
    result.stats["workers_posted_to"] = len(urls)
    load = Load(urls)
    try:
        probe_body = hooks.incident_event(
            event_id=f"{PREFIX}probe", incident_id=open_ids[0], number=1, status="acknowledged", title="probe"
        )
        headers = hooks.headers_for(probe_body)
        probe = await load.clients[0].post(hooks.RECEIVER_PATH, content=probe_body, headers=headers)
        if probe.status_code == 404:
            raise NotAvailable("POST /hooks/pagerduty/ answers 404: the receiver is not mounted yet")
        if not 200 <= probe.status_code < 300:
            raise RuntimeError(f"the receiver refused a correctly signed event: {probe.status_code} {probe.text[:200]}")
        warm, _ = _deliveries("warm", 40, open_ids)
        await load.run(warm, 40)

        seconds = 8 if quick else FIXED_SECONDS
        bodies, unique = _deliveries("fixed", FIXED_RATE * seconds, open_ids)
        outcome = await load.run(bodies, FIXED_RATE)
        stats = _summarise(result, f"fixed {FIXED_RATE}/s", outcome, FIXED_RATE)
        stored, distinct = _stored(f"{PREFIX}fixed-")
        result.add(
            f"p99 at {FIXED_RATE}/s for {seconds} s (p50 {stats['median']:.1f} ms)",
            stats["p99"],
            "ms",
            f"≤ {TARGET_P99_MS:.0f} ms",
            met=stats["p99"] <= TARGET_P99_MS,
            note=f"achieved {stats['achieved_per_s']}/s, {stats['errors']} errors",
        )
        result.add(
            "throughput at the fixed rate",
            stats["achieved_per_s"],
            "/s",
            f"{FIXED_RATE}/s",
            met=stats["achieved_per_s"] >= FIXED_RATE * 0.95 and stats["errors"] == 0,
        )
        result.add(
            "events stored (rows / unique sent, duplicates sent)",
            f"{stored} / {unique} ({len(bodies) - unique} dup)",
            "",
            "exactly once",
            met=stored == unique == distinct and stats["errors"] == 0,
        )

        step_seconds = 3 if quick else STEP_SECONDS
        # The 30 s fixed phase is the longest test of 50/s: if it held, 50/s counts as sustained.
        fixed = result.stats[f"fixed {FIXED_RATE}/s"]
        best = FIXED_RATE if fixed["p99"] <= TARGET_P99_MS and fixed["errors"] == 0 and stored == unique else 0
        steps = {}
        for rate in STEP_RATES:
            bodies, unique = _deliveries(f"step{rate}", rate * step_seconds, open_ids)
            outcome = await load.run(bodies, rate)
            stats = _summarise(result, f"step {rate}/s", outcome, rate)
            stored, _ = _stored(f"{PREFIX}step{rate}-")
            stats["stored"], stats["unique_sent"] = stored, unique
            steps[rate] = stats
            ok = (
                stats["p99"] <= TARGET_P99_MS
                and stats["achieved_per_s"] >= rate * 0.95
                and stats["errors"] == 0
                and stored == unique
            )
            print(
                f"   {rate}/s: p50 {stats['median']:.1f} ms, p99 {stats['p99']:.1f} ms, "
                f"achieved {stats['achieved_per_s']}/s, errors {stats['errors']}, stored {stored}/{unique}",
                flush=True,
            )
            if ok:
                best = max(best, rate)
            # A short step's p99 rests on its 2-3 slowest answers: go on unless the server is saturated.
            if stats["achieved_per_s"] < rate * 0.9 or stats["median"] > TARGET_P99_MS or stats["errors"]:
                break
            await asyncio.sleep(1.0)
        result.stats["steps"] = steps
        if not env.pg_dbname and not quick:
            await _sqlite_two_writers(result, workers, open_ids)
        detail = ", ".join(f"{r}/s p99 {s['p99']:.0f} ms" for r, s in steps.items())
        result.add(
            "highest rate with p99 ≤ 50 ms",
            best,
            "/s",
            f"≥ {FIXED_RATE}/s",
            met=best >= FIXED_RATE,
            note=f"fixed {FIXED_RATE}/s for {seconds} s, then {step_seconds} s steps: {detail}",
        )
    finally:
        await load.close()


async def _sqlite_two_writers(result: Result, workers: list[str], open_ids: list[str]) -> None:
    """Both workers writing one SQLite file: SQLite's busy handler backs off in sleeps, so the tail grows."""
    load = Load(workers)
    try:
        bodies, unique = _deliveries("sqlite2", FIXED_RATE * 10, open_ids)
        outcome = await load.run(bodies, FIXED_RATE)
    finally:
        await load.close()
    stats = _summarise(result, "sqlite, 2 writer processes, 50/s", outcome, FIXED_RATE)
    stored, _ = _stored(f"{PREFIX}sqlite2-")
    result.add(
        "(SQLite, 2 worker processes writing) p99 at 50/s",
        stats["p99"],
        "ms",
        "",
        note=f"p50 {stats['median']:.1f} ms, max {stats['max']:.0f} ms, stored {stored}/{unique}, 10 s",
    )


def _profile(env, result: Result) -> None:
    """The receiver's own work, in-process: verify, store, apply, publish and enqueue."""
    from incidents import webhooks

    open_ids = data.facts()["newest_open"] or [data.incident_id(1)]
    bodies, _ = _deliveries("profile", 200, open_ids)
    calls = iter([(b, hooks.headers_for(b)["X-PagerDuty-Signature"]) for b in bodies])

    def one() -> None:
        body, signature = next(calls)
        webhooks.receive(body=body, signature=signature)

    cpu = []
    for _ in range(50):
        t0 = time.process_time()
        one()
        cpu.append((time.process_time() - t0) * 1000)
    stats = result.sample("receive() cpu ms (in-process)", cpu)
    result.add("receiver CPU per event (in-process, median)", stats["median"], "ms", "", note="webhooks.receive()")
    if env.profile:
        path = profile("receiver", one, repeat=100)
        result.notes.append(f"pyinstrument profile of 100 in-process receive() calls: {path}")


def run(env, result: Result, *, quick: bool = False) -> None:
    asyncio.run(_main(env, result, quick=quick))
    _profile(env, result)
    result.notes.append(
        f"posted to {result.stats['workers_posted_to']} uvicorn worker(s) "
        f"({'docker-compose: 2 workers on PostgreSQL' if env.pg_dbname else 'make run: 1 process on SQLite'}); "
        f"{env.database_kind} database, {env.redis_kind} Redis; "
        "no Celery worker (enrichment tasks queue in Redis, as with the worker stopped)"
    )
    p99s = [s["p99"] for k, s in result.stats.items() if k.startswith("step") and isinstance(s, dict) and "p99" in s]
    if p99s:
        result.stats["p99 worst step"] = percentile(p99s, 100)
