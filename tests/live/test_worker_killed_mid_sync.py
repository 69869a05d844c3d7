"""A real Celery worker SIGKILLed mid-sync: /healthz says degraded, and the next worker takes the sync over.

Everything here is a separate process started by this test, as in production: the sandbox (PagerDuty), a portal web
process (uvicorn, for /healthz) and two Celery workers with their beat, on the test database and a real Redis. The
lease is shortened by setting (SYNC_LEASE_SECONDS, SYNC_WATCHDOG_SECONDS); every wait polls for an event with a
deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pdportal.models import SyncState
from tests.conftest import free_port

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3  # production: 120
WATCHDOG_SECONDS = 1  # production: 60
SECRET_KEY = "worker-kill-test-only-" + "k" * 40
# The broker's keys of the Celery queue (kombu's Redis transport) and the portal's leases: a killed worker leaves its
# message in "unacked" for an hour, which must not reach a later run's worker.
BROKER_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")


def wait_for(what: str, check: Callable[[], object], *, timeout: float, interval: float = 0.1) -> object:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(interval)


class Database:
    """The test database as other processes reach it (DATABASE_URL), and a reader of what they committed."""

    def __init__(self, tmp_path: Path) -> None:
        from django.db import connection

        self.vendor = connection.vendor
        self.table = SyncState._meta.db_table
        if self.vendor == "sqlite":
            # The test database lives in this process's memory: hand the workers a file copy of it (migrated).
            self.path = tmp_path / "portal.sqlite3"
            connection.ensure_connection()
            with contextlib.closing(sqlite3.connect(self.path)) as target:
                connection.connection.backup(target)
            self.url = f"sqlite:///{self.path}"
        else:
            db = connection.settings_dict
            auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
            self.url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    def sync_state(self) -> dict:
        """The full sync's SyncState row as the workers left it (committed), or {}."""
        columns = ("status", "progress", "error", "started_at", "finished_at")
        sql = f"SELECT {', '.join(columns)} FROM {self.table} WHERE name = 'initial_sync'"
        if self.vendor == "sqlite":
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
                row = db.execute(sql).fetchone()
        else:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(sql)
                row = cursor.fetchone()
        if row is None:
            return {}
        state = dict(zip(columns, row, strict=True))
        if isinstance(state["progress"], str):
            state["progress"] = json.loads(state["progress"] or "{}")
        return state


class Processes:
    """Child processes started by this test, each in its own process group; stopped by their own ids only."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.started: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - the child writes to it for its whole life
        # Its own session and group: the test signals all of it (pool children, beat) by the group's id.
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started[name] = proc
        return proc

    def worker(self, name: str) -> subprocess.Popen:
        # A worker with its beat (-B), as `make run` and the compose file run them (one process group: all of it dies).
        schedule = self.tmp_path / f"beat-{name}"
        args = ["-m", "celery", "-A", "pdportal", "worker", "-B", "-s", str(schedule), "-c", "1", "-l", "info"]
        return self.start(name, [*args, "-n", f"{name}@%h"])

    def kill(self, name: str) -> None:
        """SIGKILL to the process group of `name`: the worker, its pool child and its beat, with no warning."""
        proc = self.started[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for proc in self.started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.started.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def broker(require_real_redis, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)

    def clean() -> None:
        client.delete(*BROKER_KEYS)
        for key in client.scan_iter("pdportal:lock:*"):
            client.delete(key)

    clean()
    yield client
    clean()
    client.close()


@pytest.fixture
def portal(transactional_db, tmp_path, fresh_sandbox, broker, redis_url):
    """A finished earlier sync in the test database, and the environment of the portal's processes."""
    from django.utils import timezone

    # The nightly sync's situation: an earlier sync finished (so a starting worker queues no initial sync of its own,
    # and only the watchdog can take a killed run over).
    SyncState.objects.create(name="initial_sync", status="done", watermark=timezone.now(), finished_at=timezone.now())
    database = Database(tmp_path)
    web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERDUTY_", "SANDBOX_", "PYTEST_", "CELERY_"))}
    env.pop("PDPORTAL_TESTING", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pdportal.settings",
            "DATABASE_URL": database.url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "0",
            "HTTPS": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PORTAL_URL": f"http://127.0.0.1:{web_port}",
            "PAGERDUTY_API_URL": fresh_sandbox.url,
            "PAGERDUTY_EVENTS_URL": fresh_sandbox.url,
            "PAGERDUTY_OAUTH_URL": fresh_sandbox.url,
            "PAGERDUTY_API_TOKEN": fresh_sandbox.api_token,
            "SYNC_LEASE_SECONDS": str(LEASE_SECONDS),
            "SYNC_WATCHDOG_SECONDS": str(WATCHDOG_SECONDS),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    processes = Processes(tmp_path, env)
    try:
        yield database, processes, web_port
    finally:
        processes.stop_all()


def test_a_worker_killed_mid_sync_is_reported_degraded_and_the_next_worker_takes_the_sync_over(portal, fresh_sandbox):
    database, processes, web_port = portal
    from celery import Celery

    processes.start("web", ["-m", "uvicorn", "pdportal.asgi:application", "--port", str(web_port), "--no-access-log"])
    processes.worker("worker-a")
    healthz = f"http://127.0.0.1:{web_port}/healthz"

    def status() -> str:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return httpx.get(healthz, timeout=2).json().get("status", "")
        return ""

    wait_for("the web process", lambda: status() == "ok", timeout=60)

    # A slow PagerDuty keeps the sync running long enough to kill its worker in the middle of it.
    fresh_sandbox.set_knobs(latency_ms=700)
    sender = Celery(broker=processes.env["REDIS_URL"])
    try:
        sender.send_task("incidents.tasks.full_sync")
    finally:
        sender.close()
    started = wait_for(
        "the sync to be under way on worker A",
        lambda: (state := database.sync_state()).get("status") == "running" and state["progress"].get("step") and state,
        timeout=60,
    )
    assert status() == "ok"  # a live sync renews its lease: nothing to report

    processes.kill("worker-a")
    killed_at = time.monotonic()
    assert database.sync_state()["status"] == "running"  # what a dead worker leaves: "running", forever

    # Within one lease length the lease lapses, and /healthz reports the stalled sync (still 200: pages work).
    wait_for("/healthz to report the stalled sync as degraded", lambda: status() == "degraded", timeout=30)
    degraded_after = time.monotonic() - killed_at
    assert degraded_after < 2 * LEASE_SECONDS + 5, degraded_after

    # Another worker starts; its beat runs the watchdog, which marks the run stalled and starts a new one.
    fresh_sandbox.set_knobs(latency_ms=0)
    processes.worker("worker-b")
    wait_for("worker B to be ready", lambda: " ready." in processes.log("worker-b"), timeout=60)
    ready_at = time.monotonic()
    retaken = wait_for(
        "a new run of the sync",
        lambda: (state := database.sync_state()).get("started_at") != started["started_at"] and state,
        timeout=30,
    )
    # Within one lease length (already lapsed here) and one watchdog period of a worker being there to run it.
    took_over_after = time.monotonic() - ready_at
    assert took_over_after < LEASE_SECONDS + WATCHDOG_SECONDS + 5
    assert "sync initial_sync stalled; taking over" in processes.log("worker-b")
    assert str(retaken["started_at"]) > str(started["started_at"])
    done = wait_for(
        "the new run to finish", lambda: (s := database.sync_state()).get("status") == "done" and s, timeout=60
    )
    assert done["error"] == "" and done["finished_at"] is not None
    wait_for("/healthz to be ok again", lambda: status() == "ok", timeout=10)
    print(  # with -s: where the time went (worker start-up dominates on a loaded machine)
        f"degraded {degraded_after:.1f} s after the kill; worker B ready {ready_at - killed_at:.1f} s after it; "
        f"the new run started {took_over_after:.1f} s after worker B was ready"
    )
