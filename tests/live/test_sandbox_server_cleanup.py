"""The test sandbox launcher (tests/sandbox_server.py) never leaves a server process behind when start-up fails."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import types

import pytest

from tests import sandbox_server


@pytest.fixture
def started(monkeypatch):
    """Swap the sandbox command for a sleeper; returns the processes `_serve` started."""
    processes: list[subprocess.Popen] = []

    def popen(args, **kwargs):
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], **kwargs)
        processes.append(process)
        return process

    fake = types.SimpleNamespace(
        Popen=popen, TimeoutExpired=subprocess.TimeoutExpired, STDOUT=subprocess.STDOUT, run=subprocess.run
    )
    monkeypatch.setattr(sandbox_server, "subprocess", fake)
    yield processes
    for process in processes:  # the test failed: do not leak the sleeper either
        if process.poll() is None:
            process.kill()
            process.wait()


def test_it_stops_and_reaps_a_sandbox_that_never_becomes_ready(tmp_path, monkeypatch, started):
    def never_ready(*args, **kwargs):
        raise RuntimeError("sandbox not ready")

    monkeypatch.setattr(sandbox_server, "_wait_ready", never_ready)
    with pytest.raises(RuntimeError, match="not ready"):
        sandbox_server._serve(tmp_path, tmp_path / "live.sqlite3", tmp_path / "template.sqlite3", 0)
    [process] = started
    assert process.returncode is not None  # terminated and waited for: no orphan, no zombie


def test_it_stops_and_reaps_the_sandbox_when_reading_its_seed_fails(tmp_path, monkeypatch, started):
    monkeypatch.setattr(sandbox_server, "_wait_ready", lambda *args, **kwargs: None)
    # An empty template: SandboxServer(...) fails reading the seed after the server came up.
    with pytest.raises(sqlite3.OperationalError):
        sandbox_server._serve(tmp_path, tmp_path / "live.sqlite3", tmp_path / "template.sqlite3", 0)
    [process] = started
    assert process.returncode is not None
