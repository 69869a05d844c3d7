"""Pytest plugin: a session-wide PagerDuty sandbox server (fixture `sandbox`), seeded once, reset by copy."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
TOKEN = "sandbox-account-token"
READY_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxServer:
    """A running sandbox: `.url`, `.api_token`, `.routing_keys`, HTTP helpers and the `/_sandbox/` controls."""

    def __init__(self, *, url: str, api_token: str, db_path: Path, template_path: Path, process, log_path: Path):
        self.url = url
        self.api_token = api_token
        self.db_path = db_path
        self.template_path = template_path
        self.process = process
        self.log_path = log_path
        self.client = httpx.Client(base_url=url, timeout=30.0)
        try:
            self.routing_keys, self.users, self.services = self._read_seed()
        except BaseException:
            self.client.close()
            raise

    # --- seed facts (read straight from the template database, so they never depend on the API) ---
    def _read_seed(self):
        with sqlite3.connect(self.template_path) as db:
            keys = dict(
                db.execute(
                    "SELECT s.name, i.integration_key FROM sandbox_api_integration i "
                    "JOIN sandbox_api_service s ON s.id = i.service_id ORDER BY s.name"
                ).fetchall()
            )
            users = dict(db.execute("SELECT email, id FROM sandbox_api_user").fetchall())
            services = dict(db.execute("SELECT name, id FROM sandbox_api_service").fetchall())
        return keys, users, services

    def user_id(self, email: str) -> str:
        return self.users[email]

    # --- REST helpers (account token; pass headers={"From": ...} for writes) ---
    def headers(self, token: str | None = None, **extra) -> dict:
        return {
            "Authorization": f"Token token={token or self.api_token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
            **extra,
        }

    def request(self, method: str, path: str, *, token: str | None = None, headers: dict | None = None, **kw):
        return self.client.request(method, path, headers={**self.headers(token), **(headers or {})}, **kw)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw):
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    # --- control API (edge's /_sandbox/) ---
    def requests_log(self, **params) -> list[dict]:
        response = self.client.get("/_sandbox/requests", params=params)
        response.raise_for_status()
        return response.json()["requests"]

    def clear_log(self) -> None:
        self.client.delete("/_sandbox/requests").raise_for_status()

    def set_knobs(self, **knobs) -> dict:
        response = self.client.post("/_sandbox/knobs", json=knobs)
        response.raise_for_status()
        return response.json()["knobs"]

    def reset(self, *, size: int | None = None) -> dict:
        """Back to the seed; with `size`, to a fresh seed of that many incidents (until the next plain reset)."""
        response = self.client.post("/_sandbox/reset", json={} if size is None else {"size": size})
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.client.close()
        _stop_process(self.process)
        log_file = getattr(self, "log_file", None)
        if log_file is not None:
            log_file.close()


def _stop_process(process: subprocess.Popen) -> None:
    """Terminate (then kill) the server and always reap it, so no process or zombie outlives the session."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout=10)


def _env(db_url: str, template: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "sandbox.settings",
            "SANDBOX_DATABASE_URL": db_url,
            "SANDBOX_API_TOKEN": TOKEN,
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        }
    )
    if template is not None:
        env["SANDBOX_SEED_TEMPLATE"] = str(template)
    return env


def start_sandbox(workdir: Path, *, size: int | None = None) -> SandboxServer:
    """Seed a template database once, copy it, and serve the copy on a free port."""
    workdir.mkdir(parents=True, exist_ok=True)
    template = workdir / "template.sqlite3"
    live = workdir / "sandbox.sqlite3"
    seed_cmd = [sys.executable, "-m", "sandbox", "--db", str(template), "--seed", "--seed-only"]
    if size:
        seed_cmd += ["--size", str(size)]
    seeded = subprocess.run(seed_cmd, cwd=REPO, env=_env(f"sqlite:///{template}"), capture_output=True, timeout=300)
    if seeded.returncode != 0:
        raise RuntimeError(f"sandbox seed failed:\n{seeded.stdout.decode()}\n{seeded.stderr.decode()}")
    # A checkpointed single-file copy: the live server starts from exactly the seeded state.
    with sqlite3.connect(template) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(template, live)
    # The free port can be taken by another process before the server binds it: retry on a new one.
    for attempt in range(3):
        try:
            return _serve(workdir, live, template, attempt)
        except _PortTaken:
            continue
    raise RuntimeError("sandbox could not bind a free port after 3 attempts")


class _PortTaken(Exception):
    pass


def _serve(workdir: Path, live: Path, template: Path, attempt: int) -> SandboxServer:
    port = _free_port()
    log_path = workdir / f"server-{attempt}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it for its whole life
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--db", str(live), "--port", str(port), "--host", "127.0.0.1"],
        cwd=REPO,
        env=_env(f"sqlite:///{live}", template),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log, log_path)
        server = SandboxServer(
            url=url, api_token=TOKEN, db_path=live, template_path=template, process=process, log_path=log_path
        )
    except BaseException:
        # Not handed to anyone: stop and reap it here (a timeout, a bad seed, Ctrl-C while waiting).
        _stop_process(process)
        log.close()
        raise
    server.log_file = log
    return server


def _wait_ready(url: str, process: subprocess.Popen, log, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if process.poll() is not None:
            log.close()
            output = log_path.read_text(errors="replace")
            if "address already in use" in output.lower():
                raise _PortTaken(output)
            raise RuntimeError(f"sandbox exited with {process.returncode}:\n{output}")
        try:
            response = httpx.get(f"{url}/priorities", headers={"Authorization": f"Token token={TOKEN}"}, timeout=2)
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            log.flush()
            raise RuntimeError(f"sandbox not ready after {READY_TIMEOUT}s:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The running sandbox for the whole session (seeded once; call `.reset()` after mutating tests)."""
    server = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_sandbox(sandbox):
    """The session sandbox, reset to the seed (and default knobs) before the test."""
    sandbox.reset()
    return sandbox


# Incidents in the small seed: enough for every status, alerts, notes, change events and more than one page of
# everything, a fifth of the default 200, so a full sync of it takes seconds, not half a minute.
SMALL_SEED = 40


@pytest.fixture
def small_sandbox(sandbox):
    """The session sandbox reseeded with SMALL_SEED incidents for this test, then back to the seed after it."""
    sandbox.reset(size=SMALL_SEED)
    try:
        yield sandbox
    finally:
        sandbox.reset()
