"""`make run` (pdportal.devserver): your own PagerDuty account or the sandbox; Ctrl-C and SIGTERM stop everything."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, needs

REPO = Path(__file__).resolve().parents[2]
ADMIN = {"From": "admin@example.com"}

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(420)]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=3) as response:
        return response.status, json.loads(response.read())


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


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


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Run:
    """One `make run` (or `python -m pdportal.devserver`, as make runs it) in its own process group, started by us."""

    def __init__(self, tmp_path: Path, *, make: bool = False, **env: str) -> None:
        self.port = free_port()
        self.db = tmp_path / "portal.sqlite3"
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PAGERDUTY_", "SANDBOX_")) and k not in {"REDIS_URL", "DATABASE_URL", "PORTAL_URL"}
        }
        base.pop("PYTEST_CURRENT_TEST", None)
        base.update(
            {
                "PORT": str(self.port),
                "SANDBOX_PORT": str(free_port()),
                "EMBEDDED_REDIS_PORT": str(free_port()),
                "DATABASE_URL": f"sqlite:///{self.db}",
                "SANDBOX_DB": str(tmp_path / "sandbox.sqlite3"),
                **env,
            }
        )
        self.env, self.make = base, make
        if make:
            # make's own stamp would install into the shared virtualenv: take it as done (-o), run with this Python.
            args = ["make", "--no-print-directory", "-o", ".venv/.installed-run", "run", f"PY={sys.executable}"]
        else:
            args = [sys.executable, "-m", "pdportal.devserver"]
        self.proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=base,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group, as a terminal gives it: the test can signal all of it
        )
        # Process groups to check and, whatever happens, clean up: ours and each child's (they run in their own).
        self.groups = {self.proc.pid}
        self.output: list[str] = []
        self.devserver = self.proc.pid

    def wait_until_up(self) -> str:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "Stop:" in line:
                break
        banner = "".join(self.output)
        if self.make:  # the devserver is make's child
            self.devserver = next(k for k in _children_of(self.proc.pid) if "pdportal.devserver" in _cmdline(k))
        assert "Stop:" in banner, banner
        self.groups.update(self.children())
        return banner

    def children(self) -> list[int]:
        return _children_of(self.devserver)

    def incidents(self) -> dict[str, str]:
        with contextlib.closing(sqlite3.connect(self.db, timeout=10)) as db:
            return dict(db.execute("SELECT pd_id, status FROM incidents_incident").fetchall())

    def stop(self, how: str) -> str:
        """Ctrl-C (SIGINT to the devserver) or SIGTERM to the whole process group; asserts nothing is left."""
        self.groups.update(self.children())
        if how == "group-sigterm":
            os.killpg(self.proc.pid, signal.SIGTERM)
        else:
            self.proc.send_signal(signal.SIGINT)
        try:
            rest, _ = self.proc.communicate(timeout=60)  # draining stdout, so a full pipe cannot block its shutdown
        finally:
            leftovers = _leftovers(self.groups)
            _kill_groups(self.groups)  # never leave them running, even when an assertion fails
        out = "".join(self.output) + rest
        assert leftovers == {}, f"still running after {how} (process group: pids): {leftovers}\n{out}"
        assert "Traceback" not in out, out
        return out

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.groups.update(self.children())
        _kill_groups(self.groups)
        self.proc.kill()
        self.proc.communicate(timeout=30)


def _all_incidents(sandbox_url: str, token: str) -> dict[str, str]:
    found: dict[str, str] = {}
    with httpx.Client(base_url=sandbox_url, headers={"Authorization": f"Token token={token}"}, timeout=30) as client:
        offset = 0
        while True:
            body = client.get("/incidents", params={"date_range": "all", "limit": 100, "offset": offset}).json()
            found.update({i["id"]: i["status"] for i in body["incidents"]})
            if not body["more"]:
                return found
            offset += 100


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.5)


@pytest.fixture
def pagerduty(fresh_sandbox):
    """The session's sandbox, reset to the seed, playing the person's own PagerDuty account (reset again after)."""
    yield fresh_sandbox
    fresh_sandbox.reset()


def test_make_run_uses_your_own_account_and_follows_its_log_without_webhooks(tmp_path, pagerduty):
    # The log is read every 10 s here rather than the default 30 s (tests/pdportal/test_polling_mode.py proves that
    # default): the banner must say the interval in force, and the change below must come by that reading alone.
    run = Run(
        tmp_path, PAGERDUTY_API_URL=pagerduty.url, PAGERDUTY_API_TOKEN=pagerduty.api_token, RECONCILE_SECONDS="10"
    )
    try:
        banner = run.wait_until_up()
        # The account it connected to, and how it stays live: no webhook can reach http://127.0.0.1.
        assert "as account key" in banner and pagerduty.url in banner, banner
        assert "Live updates:           via PagerDuty's log every 10 s" in banner, banner
        took = r"[\d.]+ s"  # the first run says how long each step took
        assert re.search(rf"Started in: +{took} \(redis {took}, migrate {took}, portal {took}, sync {took}", banner)
        # No sandbox of its own: nothing on SANDBOX_PORT, and no child is one.
        assert not _listening(int(run.env["SANDBOX_PORT"]))
        assert not [pid for pid in run.children() if " -m sandbox" in _cmdline(pid)]
        assert len(run.children()) == 4, banner  # embedded redis, web, worker, beat
        assert pagerduty.get("/webhook_subscriptions").json()["webhook_subscriptions"] == []

        # The mirror holds that account's incidents.
        assert run.incidents() == _all_incidents(pagerduty.url, pagerduty.api_token)
        assert _get_json(f"http://127.0.0.1:{run.port}/healthz") == (200, {"status": "ok"})

        # A change made in PagerDuty reaches the portal within 45 s, with no webhook (nothing is subscribed).
        target = next(pd_id for pd_id, status in run.incidents().items() if status == "triggered")
        changed = pagerduty.put(
            f"/incidents/{target}", headers=ADMIN, json={"incident": {"type": "incident", "status": "resolved"}}
        )
        assert changed.status_code == 200, changed.text
        _wait_for(lambda: run.incidents()[target] == "resolved", 45, f"{target} resolved in the portal")
    except BaseException:
        run.kill()
        raise
    run.stop("ctrl-c")
    assert run.proc.returncode == 0


def test_make_run_twice_keeps_the_sandbox_and_the_mirror_in_step_and_sigterm_to_its_group_stops_all(tmp_path):
    if shutil.which("make") is None:
        needs("needs GNU make")
    first = Run(tmp_path)
    try:
        banner = first.wait_until_up()
        assert f"http://127.0.0.1:{first.port}/" in banner and "Sign in" in banner
        assert "Sandbox state:          new, seeded" in banner, banner
        assert len(first.children()) == 5, banner  # embedded redis, sandbox, web, worker, beat
        assert _get_json(f"http://127.0.0.1:{first.port}/healthz") == (200, {"status": "ok"})  # details: admins
        with contextlib.closing(sqlite3.connect(first.db)) as db:
            sync = db.execute("SELECT status FROM pdportal_syncstate WHERE name = 'initial_sync'").fetchone()
            subscriptions = db.execute(
                "SELECT count(*) FROM services_webhooksubscription WHERE created_by_portal AND active"
            ).fetchone()
        assert sync == ("done",) and subscriptions[0] >= 1  # against the sandbox, live by webhook
        sandbox_url = f"http://127.0.0.1:{first.env['SANDBOX_PORT']}"
        token = "sandbox-account-token"
        # Acting in between: resolve an incident in the sandbox; its webhook brings it to the mirror.
        target = next(pd_id for pd_id, status in first.incidents().items() if status == "triggered")
        changed = httpx.put(
            f"{sandbox_url}/incidents/{target}",
            headers={"Authorization": f"Token token={token}", **ADMIN},
            json={"incident": {"type": "incident", "status": "resolved"}},
        )
        assert changed.status_code == 200, changed.text
        _wait_for(lambda: first.incidents()[target] == "resolved", 30, "the webhook's change in the mirror")
        # The incident's "PagerDuty" link opens the sandbox's own page.
        with contextlib.closing(sqlite3.connect(first.db)) as db:
            [html_url] = db.execute("SELECT html_url FROM incidents_incident WHERE pd_id = ?", [target]).fetchone()
        assert html_url == f"{sandbox_url}/web/incidents/{target}"
        assert httpx.get(html_url, timeout=10).status_code == 200
    except BaseException:
        first.kill()
        raise
    first.stop("ctrl-c")

    # The second run, through make, on the same files: the sandbox keeps its state and the mirror agrees with it.
    second = Run(tmp_path, make=True, SANDBOX_PORT=first.env["SANDBOX_PORT"])
    try:
        banner = second.wait_until_up()
        assert "Sandbox state:          kept from the last run" in banner, banner
        assert second.incidents() == _all_incidents(sandbox_url, token)
        assert second.incidents()[target] == "resolved"
    except BaseException:
        second.kill()
        raise
    # SIGTERM to make run's whole process group (a terminal closing, a supervisor stopping it): nothing is left.
    out = second.stop("group-sigterm")
    assert not _listening(second.port) and not _listening(int(second.env["SANDBOX_PORT"])), out


# -- the pieces, without starting anything ---------------------------------------------------------------------------


def test_your_own_token_or_oauth_app_means_your_account():
    from pdportal.devserver import uses_own_account

    assert uses_own_account({"PAGERDUTY_API_TOKEN": "u+key"})
    assert uses_own_account({"PAGERDUTY_CLIENT_ID": "id", "PAGERDUTY_CLIENT_SECRET": "secret"})
    assert not uses_own_account({"PAGERDUTY_CLIENT_ID": "id"})  # half an OAuth app connects nothing
    assert not uses_own_account({})


def test_the_portal_keeps_what_you_set_for_your_account_and_gets_the_sandboxs_otherwise(monkeypatch):
    from pdportal.devserver import portal_env

    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "u+mine")
    monkeypatch.setenv("PAGERDUTY_API_URL", "https://api.eu.pagerduty.com")
    monkeypatch.delenv("PAGERDUTY_WEBHOOKS", raising=False)
    own = portal_env(port=8123, sandbox_url=None, redis_url="redis://127.0.0.1:1/0")
    assert (own["PAGERDUTY_API_TOKEN"], own["PAGERDUTY_API_URL"]) == ("u+mine", "https://api.eu.pagerduty.com")
    assert own["PORTAL_URL"] == "http://127.0.0.1:8123" and "PAGERDUTY_WEBHOOKS" not in own

    sandbox = portal_env(port=8123, sandbox_url="http://127.0.0.1:8124", redis_url="redis://127.0.0.1:1/0")
    assert sandbox["PAGERDUTY_API_URL"] == sandbox["PAGERDUTY_OAUTH_URL"] == "http://127.0.0.1:8124"
    assert sandbox["PAGERDUTY_WEBHOOKS"] == "on"  # the sandbox reaches a 127.0.0.1 portal
    assert sandbox["SANDBOX_HTML_BASE_URL"] == "http://127.0.0.1:8124/web"


@pytest.mark.django_db
def test_the_banner_names_the_tokens_user_or_the_account_key(api_key_mode):
    import responses as responses_lib

    from accounts.clients import account_client
    from incidents.bootstrap import account_identity

    api = "https://api.pagerduty.test"
    user = {
        "id": "PUSR1",
        "name": "Rita Responder",
        "email": "rita@acme.test",
        "html_url": "https://acme.pagerduty.com/users/PUSR1",
    }
    with responses_lib.RequestsMock() as rsps:
        rsps.add(responses_lib.GET, f"{api}/users/me", json={"user": user})
        assert account_identity(client=account_client()) == {
            "who": "Rita Responder <rita@acme.test>",
            "subdomain": "acme",
        }
    refusal = {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["account-level API key"]}}
    with responses_lib.RequestsMock() as rsps:
        rsps.add(responses_lib.GET, f"{api}/users/me", json=refusal, status=400)
        rsps.add(responses_lib.GET, f"{api}/users", json={"users": [user], "more": False})
        assert account_identity(client=account_client()) == {"who": "account key", "subdomain": "acme"}


@pytest.mark.django_db
def test_a_new_sandbox_resets_the_mirror_of_the_old_one():
    from incidents import mirror
    from incidents.bootstrap import reset_mirror
    from incidents.models import Incident
    from pdportal.models import SyncState
    from tests.incidents.factories import alert_json, incident_json

    mirror.upsert_incident(incident_json("PINC1", 1, status="resolved"))
    mirror.upsert_alert(alert_json("PALR1", "PINC1"))
    SyncState.objects.create(name="initial_sync", status="done")
    assert reset_mirror() >= 2
    assert not Incident.objects.exists() and not SyncState.objects.exists()


@pytest.mark.django_db
def test_a_token_pagerduty_refuses_ends_the_start_with_its_message_and_no_traceback(api_key_mode, capsys):
    import responses as responses_lib

    from pdportal.devserver import bootstrap

    refusal = {"error": {"message": "Unauthorized", "code": 2006}}
    with responses_lib.RequestsMock() as rsps:
        rsps.add(responses_lib.GET, "https://api.pagerduty.test/users/me", json=refusal, status=401)
        assert bootstrap([]) == 1
    out = capsys.readouterr().out
    assert "PagerDuty at https://api.pagerduty.test refused" in out and "Unauthorized" in out
    assert "check PAGERDUTY_API_TOKEN" in out
