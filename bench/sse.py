"""SSE capacity: 500 open /live/ streams on 2 workers, delivery latency of one event to all, memory, idle DB use."""

from __future__ import annotations

import asyncio
import time

from bench.core import NotAvailable, Result, ratio
from bench.env import BENCH_APPLICATION_NAME, open_files_matching, rss_kib

TITLE = "SSE capacity: 500 /live/ clients on 2 workers (delivery p95/max, RSS, DB connections while idle)"
CLIENTS = 500
PUBLISHES = 5
TARGET_DELIVERY_P95_MS = 100.0
POLL_SECONDS = 5.0


class Stream:
    """One raw-socket SSE client: cheap enough that 500 of them fit in one asyncio loop beside the workers."""

    def __init__(self, host: str, port: int, cookie: str) -> None:
        self.host, self.port, self.cookie = host, port, cookie
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buffer = b""
        self.status = 0
        self.seen: dict[bytes, float] = {}
        self.waiting: set[bytes] = set()
        self.task: asyncio.Task | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"GET /live/ HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: text/event-stream\r\n"
            f"Cache-Control: no-cache\r\nCookie: {self.cookie}\r\n\r\n"
        )
        self.writer.write(request.encode())
        await self.writer.drain()
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout=30)
        self.status = int(head.split(b" ", 2)[1])
        if self.status == 200:
            # Wait for the first event (`retry:` then `ready`): the stream is registered with the hub by then.
            while b"ready" not in self.buffer and b"resync" not in self.buffer:
                chunk = await asyncio.wait_for(self.reader.read(4096), timeout=30)
                if not chunk:
                    raise ConnectionError("stream closed before it was ready")
                self.buffer += chunk
            self.buffer = b""
            self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.reader is not None
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            now = time.time()
            self.buffer = (self.buffer + chunk)[-4096:]
            for marker in list(self.waiting):
                if marker in self.buffer:
                    self.seen[marker] = now
                    self.waiting.discard(marker)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()


async def _open_all(streams: list[Stream]) -> list[BaseException | None]:
    sem = asyncio.Semaphore(50)

    async def one(stream: Stream) -> BaseException | None:
        async with sem:
            try:
                await stream.connect()
            except BaseException as exc:
                return exc
            return None

    return await asyncio.gather(*(one(s) for s in streams))


def _db_connections_held(env, pids: list[int]) -> tuple[int, str, int]:
    """Database connections the workers hold right now, how that was counted, and the same count for this
    process while it holds one connection (proof that the method sees a connection when there is one)."""
    import os

    from django.db import connection, connections

    from accounts.models import PagerDutyUser

    PagerDutyUser.objects.exists()  # this process now holds a connection
    if env.pg_dbname:
        import psycopg

        with psycopg.connect(env._pg_admin_url, autocommit=True) as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name {} %s"
            own = conn.execute(query.format("="), [env.pg_dbname, BENCH_APPLICATION_NAME]).fetchone()[0]
            row = conn.execute(query.format("<>"), [env.pg_dbname, BENCH_APPLICATION_NAME]).fetchone()
        connections.close_all()
        return int(row[0]), "pg_stat_activity rows for the bench database, the bench's own excluded", int(own)
    assert env.sqlite_path is not None
    own = open_files_matching(os.getpid(), env.sqlite_path.name)
    connection.close()
    held = sum(open_files_matching(pid, env.sqlite_path.name) for pid in pids)
    return held, "open file descriptors on the SQLite file in /proc/<pid>/fd", own


async def _main(env, result: Result, *, quick: bool) -> None:
    from pdportal import live

    n_clients = 100 if quick else CLIENTS
    urls = env.workers()
    pids = env.worker_pids()
    cookie = "; ".join(f"{k}={v}" for k, v in env.cookies().items())
    baseline = [rss_kib(pid) or 0 for pid in pids]
    ports = [int(u.rsplit(":", 1)[1]) for u in urls]

    probe = Stream("127.0.0.1", ports[0], cookie)
    try:
        await asyncio.wait_for(probe.connect(), timeout=30)
    except Exception as exc:
        raise NotAvailable(f"GET /live/ did not open an event stream: {exc!r}") from None
    finally:
        probe.close()
    if probe.status == 404:
        raise NotAvailable("GET /live/ answers 404: the SSE stream is not mounted yet")
    if probe.status != 200:
        raise RuntimeError(f"GET /live/ answered {probe.status} for a signed-in responder")

    streams = [Stream("127.0.0.1", ports[i % len(ports)], cookie) for i in range(n_clients)]
    t0 = time.monotonic()
    failures = await _open_all(streams)
    connect_s = time.monotonic() - t0
    opened = [s for s, f in zip(streams, failures, strict=True) if f is None and s.status == 200]
    errors = [repr(f) for f in failures if f is not None][:5]
    result.add(
        "streams open",
        len(opened),
        f"of {n_clients}",
        f"{n_clients}",
        met=len(opened) == n_clients,
        note=f"opened in {connect_s:.1f} s" + (f"; errors: {errors}" if errors else ""),
    )
    try:
        # Idle: let the streams settle, then look at what the workers hold.
        await asyncio.sleep(2.0)
        loaded = [rss_kib(pid) or 0 for pid in pids]
        held, how, own = _db_connections_held(env, pids)

        latencies: list[float] = []
        missed = 0
        for k in range(PUBLISHES):
            marker_id = f"QSSE{k:03d}"
            marker = f'"{marker_id}"'.encode()
            for s in opened:
                s.waiting.add(marker)
            sent = time.time()
            await asyncio.to_thread(live.publish, topic="incident", ids=[marker_id], event="bench.sse")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(marker in s.waiting for s in opened):
                await asyncio.sleep(0.01)
            for s in opened:
                if marker in s.seen:
                    latencies.append((s.seen[marker] - sent) * 1000)
                else:
                    missed += 1
                    s.waiting.discard(marker)
            await asyncio.sleep(0.5)
    finally:
        for s in streams:
            s.close()

    stats = result.sample("delivery ms", latencies)
    peer_p95 = POLL_SECONDS * 0.95 * 1000
    result.add(
        f"delivery of one event to all {len(opened)}: p95",
        stats["p95"],
        "ms",
        f"≤ {TARGET_DELIVERY_P95_MS:.0f} ms",
        met=stats["p95"] is not None and stats["p95"] <= TARGET_DELIVERY_P95_MS and missed == 0,
        peer="5 s polling: p95 4,750 ms",
        ratio=ratio(stats["p95"], peer_p95),
        note=f"{PUBLISHES} events; median {stats['median']} ms; {missed} deliveries missed",
    )
    result.add("delivery: max", stats["max"], "ms", "", note=f"{missed} missed")
    per_worker = [round(v / 1024, 1) for v in loaded]
    per_stream = [
        round((after - before) / max(1, len(opened) / len(pids)), 1)
        for before, after in zip(baseline, loaded, strict=True)
    ]
    result.stats["rss_mib"] = {"idle_before": [round(v / 1024, 1) for v in baseline], "with_streams": per_worker}
    result.add(
        "RSS per worker with the streams open",
        " / ".join(f"{v:.0f}" for v in per_worker),
        "MiB",
        "",
        note=f"≈ {' / '.join(str(v) for v in per_stream)} KiB per stream",
    )
    result.stats["db_detector_self_check"] = own
    result.add(
        "database connections held by idle streams",
        held,
        "",
        "0",
        met=held == 0 and own > 0,
        note=f"{how}; the same method sees {own} for the bench process holding one connection",
    )


def run(env, result: Result, *, quick: bool = False) -> None:
    asyncio.run(_main(env, result, quick=quick))
