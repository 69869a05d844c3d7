"""The sandbox server command: seeds a chosen size deterministically and is reachable from manage.py."""

import sqlite3
import subprocess
import sys

import pytest

from tests.sandbox_server import REPO, _env

pytestmark = pytest.mark.sandbox


def seed(db, size):
    subprocess.run(
        [sys.executable, "-m", "sandbox", "--db", str(db), "--seed", "--seed-only", "--size", str(size)],
        cwd=REPO,
        env=_env(f"sqlite:///{db}"),
        check=True,
        capture_output=True,
        timeout=120,
    )
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status FROM sandbox_api_incident ORDER BY number").fetchall()


def test_it_seeds_the_requested_number_of_incidents_with_the_same_ids_every_time(tmp_path):
    first = seed(tmp_path / "a.sqlite3", 300)
    second = seed(tmp_path / "b.sqlite3", 300)
    assert len(first) == 300
    assert first == second
    assert {status for _, status in first} == {"triggered", "acknowledged", "resolved"}


def test_manage_py_runs_the_sandbox_command():
    result = subprocess.run(
        [sys.executable, "manage.py", "sandbox", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--size" in result.stdout
    assert "--portal-webhook" in result.stdout
