"""The sandbox server command: seeds a chosen size deterministically and is reachable from manage.py."""

import sqlite3
import subprocess
import sys

import pytest

from tests.sandbox_server import REPO, _env

pytestmark = pytest.mark.sandbox


def incidents_of(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status FROM sandbox_api_incident ORDER BY number").fetchall()


def seed(db, size):
    subprocess.run(
        [sys.executable, "-m", "sandbox", "--db", str(db), "--seed", "--seed-only", "--size", str(size)],
        cwd=REPO,
        env=_env(f"sqlite:///{db}"),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return incidents_of(db)


def test_it_seeds_the_requested_number_of_incidents_with_the_same_ids_every_time(tmp_path, sandbox):
    # Not the default 200 (the size is the one asked for), and small. The second seed is the running server's
    # reseed (POST /_sandbox/reset with a size): a seed of its own, without a second Django start and migrate.
    first = seed(tmp_path / "a.sqlite3", 37)
    sandbox.reset(size=37)
    try:
        second = incidents_of(sandbox.db_path)
    finally:
        sandbox.reset()
    assert len(first) == 37
    assert first == second
    assert {status for _, status in first} == {"triggered", "acknowledged", "resolved"}


def test_manage_py_runs_the_sandbox_command():
    result = subprocess.run(
        [sys.executable, "manage.py", "sandbox", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--size" in result.stdout
    assert "--portal-webhook" in result.stdout
