"""The live portal for browser tests: uvicorn subprocesses on the session's sandbox and Redis, and a signed-in page.

The portal runs as subprocesses (`uvicorn --workers 2` on PORTAL_URL, where webhooks land, plus, once a test asks
for `other_url`, a separate single-worker uvicorn on another port; one file SQLite database, the session's Redis),
synced from the sandbox, with the webhook subscription registered by the portal itself (pointing at PORTAL_URL).
Every module gets its own portal on a freshly reset sandbox; what every one of them starts from (the migrated
database and the initial sync of the seed, made by `make run`'s own bootstrap) is built once per session and
copied. Every wait here is on an event with a generous timeout: these tests must pass on a shared machine with a
load average of 15.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

# How long a change may take to reach an open page (webhook delivery, the bus, the re-fetch) on a loaded machine.
# On a quiet one it takes well under a second; the tests wait on the DOM, so a generous bound costs nothing.
LIVE_MS = 30_000

REPO = Path(__file__).resolve().parents[2]
RESPONDER_EMAIL = "responder@example.com"
ADMIN_EMAIL = "admin@example.com"

SESSION_SCRIPT = """
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from tests.personas import make_portal_user

user = make_portal_user(email="%s")
user.profile.notify_desktop = True
user.profile.save(update_fields=["notify_desktop"])
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


# The second half of `make run`'s bootstrap (the first, the initial sync, is in the copied template): the webhook
# subscription pointing at this portal's PORTAL_URL, registered by the portal itself.
SUBSCRIBE_SCRIPT = """
import django
django.setup()
from accounts.clients import account_client
from services.actions import webhook_subscription_ensure
ensured = webhook_subscription_ensure(client=account_client())
assert ensured.subscription is not None and ensured.subscription.url.startswith("%s/"), ensured
"""


PUBLISH_SCRIPT = """
import django
django.setup()
from pdportal import live
print(live.publish(topic="incident", ids=["%(pd_id)s"], event="%(event)s"))
"""


# Records the id of every element a live refresh swapped (today's morph event, and htmx's for older pages).
SWAPS = """() => {
  window.__swapped = [];
  const seen = (e) => window.__swapped.push((e.detail && e.detail.target && e.detail.target.id) || e.target.id);
  document.addEventListener("pd:live-swapped", seen);
  document.addEventListener("htmx:afterSwap", seen);
}"""


@dataclass
class Portal:
    url: str
    session_key: str
    process: subprocess.Popen | None
    start: object  # () -> subprocess.Popen: (re)starts uvicorn on the same port
    run: dict | None = None  # subprocess.run() keywords for commands against this portal's database and Redis
    other_process: subprocess.Popen | None = None
    launch: object = None  # (port, workers, extra env) -> subprocess.Popen: one more server of this portal
    extra: list = field(default_factory=list)  # processes started with launch(), stopped with the portal
    other_port: int = field(default_factory=free_port)

    @property
    def other_url(self) -> str:
        """A second server process sharing the database and Redis, not receiving webhooks (started on first use)."""
        if self.other_process is None:
            self.other_process = self.launch(self.other_port, 1, None)
        return f"http://127.0.0.1:{self.other_port}"

    def start_own(self, **env: str) -> tuple[str, subprocess.Popen]:
        """One more single-process server of this portal (its own pid, safe to freeze or kill); returns url, process."""
        port = free_port()
        process = self.launch(port, 1, env)
        self.extra.append(process)
        return f"http://127.0.0.1:{port}", process

    def python(self, script: str) -> str:
        """Run a script as the portal would (its settings, database and Redis); returns its last output line."""
        done = subprocess.run([sys.executable, "-c", script], **self.run)
        return done.stdout.decode().strip().splitlines()[-1] if done.stdout.strip() else ""

    def publish(self, pd_id: str, event: str = "incident.annotated") -> None:
        """Tell every open page that this incident changed (what a webhook does), without changing anything."""
        self.python(PUBLISH_SCRIPT % {"pd_id": pd_id, "event": event})

    def crash_and_restart(self, pause: float) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        time.sleep(pause)
        self.process = self.start()  # start() stops what it started if the portal does not come up


def stop_group(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session, and everything in its group (uvicorn's workers)."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # The leader may be gone while a worker of its group lingers: make sure of the whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"portal exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"portal did not answer {url}:\n{log.read_text()}")


def _portal_env(sandbox, redis_url: str, database: Path, url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERDUTY_", "CELERY_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pdportal.settings",
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": redis_url,
            "PORTAL_URL": url,
            "PAGERDUTY_API_URL": sandbox.url,
            "PAGERDUTY_EVENTS_URL": sandbox.url,
            "PAGERDUTY_OAUTH_URL": sandbox.url,
            "PAGERDUTY_API_TOKEN": sandbox.api_token,
            "PAGERDUTY_WEBHOOKS": "on",  # the sandbox delivers to 127.0.0.1, which PagerDuty could not
            "DEBUG": "1",
            "HTTPS": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


@pytest.fixture(scope="package")
def portal_template(sandbox, redis_url, tmp_path_factory) -> Path:
    """The portal database every module's portal starts from: migrated, and synced from the freshly reset sandbox
    by `make run`'s own bootstrap (without the subscription, which names each portal's own URL). The sandbox resets
    to the same seed, so a copy of it is what a new portal would sync."""
    sandbox.reset()
    template = tmp_path_factory.mktemp("portal-template") / "portal.sqlite3"
    env = _portal_env(sandbox, redis_url, template, "http://127.0.0.1:9")
    env["PAGERDUTY_WEBHOOKS"] = "off"  # no subscription: it would point at a portal that never runs
    run = {"cwd": REPO, "env": env, "check": True, "capture_output": True, "timeout": 300}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], **run)
    subprocess.run([sys.executable, "-m", "pdportal.devserver", "bootstrap"], **run)
    # One self-contained file: what the bootstrap wrote to the WAL is moved into it, so a plain copy has it all.
    with contextlib.closing(sqlite3.connect(template)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert db.execute("SELECT status FROM pdportal_syncstate WHERE name = 'initial_sync'").fetchone() == ("done",)
        assert db.execute("SELECT count(*) FROM incidents_incident").fetchone()[0] > 0
    return template


@pytest.fixture(scope="module")
def portal(sandbox, redis_url, portal_template, tmp_path_factory):
    sandbox.reset()
    workdir = tmp_path_factory.mktemp("portal")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    shutil.copyfile(portal_template, workdir / "portal.sqlite3")
    env = _portal_env(sandbox, redis_url, workdir / "portal.sqlite3", url)
    run = {"cwd": REPO, "env": env, "check": True, "capture_output": True, "timeout": 180}
    log = workdir / "uvicorn.log"

    def uvicorn(on_port: int, workers: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "pdportal.asgi:application",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(on_port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "2",
        ]

    def launch(on_port: int, workers: int, extra_env: dict | None = None) -> subprocess.Popen:
        with open(log, "ab") as out:
            process = subprocess.Popen(
                uvicorn(on_port, workers),
                cwd=REPO,
                env={**env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_http(f"http://127.0.0.1:{on_port}/healthz", process, log)
        except BaseException:
            stop_group(process, signal.SIGKILL)  # not up: the caller never gets it, so nobody else would
            raise
        return process

    def start() -> subprocess.Popen:
        return launch(port, 2)

    portal = Portal(url=url, session_key="", process=None, start=start, run=run, launch=launch)
    try:
        portal.process = start()
        # The web process is up before the subscription is registered (PagerDuty may ping at once), as in make run.
        # One Python for both steps (each start of Django costs seconds on a loaded machine).
        portal.session_key = portal.python(SUBSCRIBE_SCRIPT % url + SESSION_SCRIPT % RESPONDER_EMAIL)
        yield portal
    finally:
        for process in portal.extra:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)  # a frozen server cannot stop
            stop_group(process)
        stop_group(portal.process)
        stop_group(portal.other_process)
        sandbox.reset()


def signed_in_page(chromium, portal: Portal):
    context = chromium.new_context()
    context.add_cookies([{"name": "sessionid", "value": portal.session_key, "url": portal.url}])
    page = context.new_page()
    page.set_default_timeout(LIVE_MS)
    return context, page


def open_incident(sandbox) -> dict:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1, "sort_by": "created_at:desc"})
    response.raise_for_status()
    return response.json()["incidents"][0]


def poll(page, expression: str, predicate, timeout: float = LIVE_MS / 1000):
    """Evaluate `expression` until `predicate` holds (wait_for_function would need eval, which CSP forbids)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if predicate(value) or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(50)


def wait_live(page) -> None:
    page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_MS)
