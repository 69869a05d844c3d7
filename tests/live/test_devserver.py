"""`make run` (pdportal.devserver) starts Redis, the sandbox, the portal, worker and beat; Ctrl-C stops them all."""

from __future__ import annotations

import json
import os
import signal
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
    )
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
        assert len(children) == 5, banner  # embedded redis, sandbox, web, worker, beat

        status, health = _get_json(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert health["database"]["ok"] and health["redis"]["ok"]
        assert health["last_sync"]["full_sync"]["status"] == "done"
        assert health["webhook_subscription"]["state"] == "active"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    leftovers = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert leftovers == []
    assert proc.returncode == 0
