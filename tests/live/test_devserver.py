"""`make run` (pdportal.devserver) starts Redis, the sandbox, the portal, worker and beat; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(240)]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=3) as response:
        return response.status, json.loads(response.read())


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group `pgid`: a child and whatever it forked (uvicorn, celery)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def _leftovers(groups: set[int], grace: float = 5.0) -> dict[int, list[int]]:
    deadline = time.monotonic() + grace
    while True:
        found = {pgid: members for pgid in sorted(groups) if (members := _group_members(pgid))}
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _kill_groups(groups: set[int]) -> None:
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_path):
    port, sandbox_port, redis_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "PAGERDUTY_API_TOKEN"}}
    env.update(
        {
            "PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            "EMBEDDED_REDIS_PORT": str(redis_port),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "SANDBOX_DB": str(tmp_path / "sandbox.sqlite3"),
        }
    )
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pdportal.devserver"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group too (migrate, bootstrap): the test can clean up after a failure
    )
    # Process groups to check and, whatever happens, clean up: the devserver's and each child's (every child runs
    # in its own session, so killing the devserver alone would leave them running).
    groups = {proc.pid}
    output: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Stop:" in line:
                break
        banner = "".join(output)
        assert f"http://127.0.0.1:{port}/" in banner, banner
        assert "Sign in" in banner
        children = _children_of(proc.pid)
        groups.update(children)
        assert len(children) == 5, banner  # embedded redis, sandbox, web, worker, beat

        status, health = _get_json(f"http://127.0.0.1:{port}/healthz")
        assert (status, health) == (200, {"status": "ok"})  # anonymous callers read no details (SECURITY.md)
        with contextlib.closing(sqlite3.connect(tmp_path / "portal.sqlite3")) as db:
            sync = db.execute("SELECT status FROM pdportal_syncstate WHERE name = 'initial_sync'").fetchone()
            subscriptions = db.execute(
                "SELECT count(*) FROM services_webhooksubscription WHERE created_by_portal AND active"
            ).fetchone()
        assert sync == ("done",)
        assert subscriptions[0] >= 1
    except BaseException:
        groups.update(_children_of(proc.pid))  # whatever had started when it failed
        proc.kill()
        proc.communicate(timeout=30)
        _kill_groups(groups)
        raise

    # Ctrl-C: the devserver stops every child and its own children (uvicorn's and celery's forks).
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=30)  # draining stdout, so a full pipe cannot block its shutdown
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=30)
        _kill_groups(groups)
        raise
    leftovers = _leftovers(groups)
    _kill_groups(groups)  # never leave them running, even when the assertion below fails
    assert leftovers == {}, f"still running after Ctrl-C (process group: pids): {leftovers}"
    assert proc.returncode == 0, banner + rest
