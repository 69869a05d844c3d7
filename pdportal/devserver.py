"""`make run`: the portal, its worker and beat, against your PagerDuty account or the bundled sandbox.

With PAGERDUTY_API_TOKEN, or PAGERDUTY_CLIENT_ID and PAGERDUTY_CLIENT_SECRET, set, the portal uses that account
(PagerDuty's hosts, or the PAGERDUTY_*_URL given) and no sandbox starts. Otherwise the sandbox starts on
SANDBOX_PORT (8010) with its state kept in SANDBOX_DB between runs (seeded only when new). REDIS_URL unset starts
the embedded Redis-protocol server on EMBEDDED_REDIS_PORT (6390). Every child runs in its own session; Ctrl-C or
SIGTERM (to this process or its whole process group) stops them all. Logs of the children go to .run/<name>.log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
RUN_DIR = REPO / ".run"
SANDBOX_TOKEN_DEFAULT = "sandbox-account-token"
SANDBOX_OAUTH_CLIENT_ID = "pdportal-sandbox"
SANDBOX_OAUTH_CLIENT_SECRET = "sandbox-secret"
READY_TIMEOUT = 120.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StepFailed(Exception):
    """A start-up step (a child run to completion) exited with an error."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"{name} failed with exit code {code}")
        self.name, self.code = name, code


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM for a moment: a child started but not yet recorded would never be stopped."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Children:
    """The processes we started, each in its own session (a signal to our group never reaches them), stopped by us."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str], *, quiet: bool = True) -> subprocess.Popen:
        RUN_DIR.mkdir(exist_ok=True)
        with _signals_blocked(), open(RUN_DIR / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                args,
                cwd=REPO,
                env=env,
                stdout=log if quiet else None,
                stderr=subprocess.STDOUT if quiet else None,
                start_new_session=True,  # we decide when it stops, and it stops with everything it forked
            )
            self.procs.append((name, proc))
        return proc

    def run(self, name: str, args: list[str], env: dict[str, str], *, quiet: bool = True) -> None:
        """Run a step to completion; Ctrl-C meanwhile stops it like any other child (no traceback of its own)."""
        proc = self.start(name, args, env, quiet=quiet)
        code = proc.wait()
        self.procs.remove((name, proc))
        if code != 0:
            raise StepFailed(name, code)

    def dead(self) -> list[tuple[str, int]]:
        return [(name, proc.returncode) for name, proc in self.procs if proc.poll() is not None]

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)  # the group: uvicorn's and celery's forks too
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_exited(proc) for _name, proc in self.procs):
            time.sleep(0.1)
        for _name, proc in reversed(self.procs):
            # Whatever is left in its group (a fork that outlived its parent, or a child that ignored SIGTERM) is
            # killed while the exited leader is not yet reaped, so its group id cannot belong to anyone else.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        self.procs.clear()


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the child has exited, without reaping it (a zombie still holds its process group id)."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class Steps:
    """How long each start-up step took, printed once everything is up."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.times: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, name: str, message: str) -> Iterator[None]:
        say(message)
        began = time.monotonic()
        yield
        self.times.append((name, time.monotonic() - began))

    def summary(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.times)
        return f"{time.monotonic() - self.started:.1f} s ({parts})"


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def wait_for_port(port: int, proc: subprocess.Popen, name: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StepFailed(name, proc.returncode)
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{name} did not listen on port {port} within {timeout:.0f}s; see {RUN_DIR / (name + '.log')}")


def wait_for_http(url: str, proc: subprocess.Popen, name: str, headers: dict | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StepFailed(name, proc.returncode)
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer {url} within {READY_TIMEOUT:.0f}s; see {RUN_DIR / (name + '.log')}")


def uses_own_account(environ: dict[str, str]) -> bool:
    """A PagerDuty token, or a complete OAuth app, in the environment: run against that account, no sandbox."""
    return bool(environ.get("PAGERDUTY_API_TOKEN")) or bool(
        environ.get("PAGERDUTY_CLIENT_ID") and environ.get("PAGERDUTY_CLIENT_SECRET")
    )


def portal_env(*, port: int, sandbox_url: str | None, redis_url: str) -> dict[str, str]:
    """The portal's environment: what the person set, plus the sandbox's hosts and keys when it is the sandbox."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pdportal.settings",
            "PYTHONUNBUFFERED": "1",
            "REDIS_URL": redis_url,
            "PORTAL_URL": env.get("PORTAL_URL") or f"http://127.0.0.1:{port}",
            "DEBUG": env.get("DEBUG") or "1",
            "HTTPS": env.get("HTTPS") or "0",
        }
    )
    if sandbox_url is None:
        return env  # the person's own PAGERDUTY_* (unset hosts default to PagerDuty's, in settings)
    env.update(
        {
            "PAGERDUTY_API_URL": sandbox_url,
            "PAGERDUTY_EVENTS_URL": sandbox_url,
            "PAGERDUTY_OAUTH_URL": sandbox_url,
            "PAGERDUTY_API_TOKEN": env.get("SANDBOX_API_TOKEN") or SANDBOX_TOKEN_DEFAULT,
            "PAGERDUTY_CLIENT_ID": env.get("SANDBOX_OAUTH_CLIENT_ID") or SANDBOX_OAUTH_CLIENT_ID,
            "PAGERDUTY_CLIENT_SECRET": env.get("SANDBOX_OAUTH_CLIENT_SECRET") or SANDBOX_OAUTH_CLIENT_SECRET,
            # The sandbox runs on this machine, so it can deliver webhooks to a 127.0.0.1 portal.
            "PAGERDUTY_WEBHOOKS": "on",
            # Incident links open the sandbox's own incident page.
            "SANDBOX_HTML_BASE_URL": f"{sandbox_url}/web",
        }
    )
    return env


# -- bootstrap: a child with the portal's settings ----------------------------------------------------------------


def bootstrap(argv: list[str]) -> int:
    """In a child with the portal's environment: `manage.py pd_bootstrap` (who we are connected as, the initial
    sync, live updates), by its command name: the platform never imports the apps above it."""
    import django  # why: django.setup() needs this child's environment, set by the launcher

    django.setup()
    from django.core.management import call_command  # why: only after django.setup()

    try:
        call_command("pd_bootstrap", *argv)
    except SystemExit as exc:  # the command's exit status (1: PagerDuty refused the connection)
        return int(exc.code or 0)
    return 0


# -- the launcher ---------------------------------------------------------------------------------------------------


def banner(*, port: int, report: dict[str, str], sandbox: dict[str, str] | None, steps: Steps) -> str:
    where = report.get("subdomain") or ""
    account = f"{where} ({report['api_url']})" if where else report["api_url"]
    if report.get("who"):
        account += f", as {report['who']}"
    else:
        account += ": not connected yet (sign in with PagerDuty as an admin, then connect on /settings/)"
    lines = [
        "",
        f"  PD Portal is running:   http://127.0.0.1:{port}/",
        f"  PagerDuty account:      {account}",
        f"  Live updates:           {report.get('live', 'once an admin connects the account')}",
    ]
    if report.get("live_why"):
        lines.append(f"                          ({report['live_why']})")
    if sandbox is not None:
        lines += [
            '  Sign in:                click "Sign in with PagerDuty" (/accounts/pagerduty/login/); the sandbox',
            "                          lists its seeded users: pick Rita Responder (responder), Adam Admin (admin)",
            "                          or Oscar Observer (read-only).",
            f"  PagerDuty sandbox:      {sandbox['url']}  (API token {sandbox['token']})",
            f"  Sandbox state:          {sandbox['state']}",
        ]
    elif report.get("mode") == "oauth" or os.environ.get("PAGERDUTY_CLIENT_ID"):
        lines.append('  Sign in:                click "Sign in with PagerDuty" (/accounts/pagerduty/login/)')
    else:
        lines += [
            "  Sign in:                give people portal logins linked to their PagerDuty email:",
            "                          .venv/bin/python manage.py create_portal_user --email you@example.com",
        ]
    lines += [
        f"  Health:                 http://127.0.0.1:{port}/healthz",
        f"  Logs:                   {RUN_DIR}/*.log",
        f"  Started in:             {steps.summary()}",
        "  Stop:                   Ctrl-C",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bootstrap"]:
        return bootstrap(argv[1:])

    port = int(os.environ.get("PORT") or 8000)
    sandbox_port = int(os.environ.get("SANDBOX_PORT") or 8010)
    py = sys.executable
    children = Children()
    steps = Steps()
    stopping: dict[str, int | None] = {"signal": None}
    # A stop signal interrupts only while we start and watch. Once the clean-up is under way (a child died, a step
    # failed) it is only noted: a KeyboardInterrupt raised inside the clean-up printed a traceback and left the
    # children running.
    armed = {"yes": True}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only the first signal interrupts: make forwards the group's SIGTERM again, and a person presses Ctrl-C
        # twice; a second interruption inside the clean-up would leave children holding their ports.
        if stopping["signal"] is None:
            stopping["signal"] = signum
            if armed["yes"]:
                raise KeyboardInterrupt

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    handle, name = tempfile.mkstemp(prefix="pdportal-run-", suffix=".json")
    os.close(handle)
    report_file = Path(name)
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            redis_port = int(os.environ.get("EMBEDDED_REDIS_PORT") or 6390)
            with steps.step("redis", f"REDIS_URL is unset: starting the embedded Redis on port {redis_port}"):
                proc = children.start(
                    "redis", [py, "-m", "pdportal.embedded_redis", "--port", str(redis_port)], dict(os.environ)
                )
                wait_for_port(redis_port, proc, "redis")
            redis_url = f"redis://127.0.0.1:{redis_port}/0"

        own = uses_own_account(dict(os.environ))
        sandbox_url = None if own else f"http://127.0.0.1:{sandbox_port}"
        env = portal_env(port=port, sandbox_url=sandbox_url, redis_url=redis_url)
        if own:
            say(f"PagerDuty credentials found: using your account at {env.get('PAGERDUTY_API_URL') or 'PagerDuty'}")

        with steps.step("migrate", "migrating the portal database"):
            children.run("migrate", [py, "manage.py", "migrate", "--noinput", "-v", "0"], env, quiet=False)

        sandbox_info = None
        bootstrap_args = [py, "-m", "pdportal.devserver", "bootstrap", "--report", str(report_file)]
        if sandbox_url is not None:
            sandbox_db = Path(os.environ.get("SANDBOX_DB") or REPO / "sandbox.sqlite3").resolve()
            new = not sandbox_db.exists()
            # Seeded only when new: the sandbox keeps what was done in it, and so does the portal's mirror.
            state = (
                f"new, seeded into {sandbox_db}; kept across runs (delete the file to start again from the seed)"
                if new
                else f"kept from the last run in {sandbox_db} (delete it to start again from the seed)"
            )
            seeding = "new: seeding it" if new else "keeping its state"
            with steps.step("sandbox", f"starting the PagerDuty sandbox on {sandbox_url} ({seeding})"):
                sandbox_env = {k: v for k, v in env.items() if not k.startswith("DJANGO_SETTINGS")}
                sandbox = children.start(
                    "sandbox",
                    [py, "-m", "sandbox", "--db", str(sandbox_db), "--port", str(sandbox_port), "--host", "127.0.0.1"],
                    sandbox_env,
                )
                wait_for_http(
                    f"{sandbox_url}/priorities",
                    sandbox,
                    "sandbox",
                    headers={"Authorization": f"Token token={env['PAGERDUTY_API_TOKEN']}"},
                )
            sandbox_info = {"url": sandbox_url, "token": env["PAGERDUTY_API_TOKEN"], "state": state}
            if new:
                bootstrap_args.append("--new-sandbox")

        # The web process must be up before the subscription is registered: PagerDuty may ping at once.
        with steps.step("portal", f"starting the portal on http://127.0.0.1:{port}"):
            web = children.start(
                "web",
                [
                    py,
                    "-m",
                    "uvicorn",
                    "pdportal.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "3",
                ],
                env,
            )
            wait_for_http(f"http://127.0.0.1:{port}/healthz", web, "web")

        with steps.step("sync", "initial sync and live updates"):
            children.run("bootstrap", bootstrap_args, env, quiet=False)
        report = json.loads(report_file.read_text() or "{}")
        if report.get("reset") and sandbox_info is not None:
            sandbox_info["state"] += "; the portal's mirror of the previous sandbox was reset with it"

        with steps.step("worker", "starting the Celery worker and beat"):
            children.start("worker", [py, "-m", "celery", "-A", "pdportal", "worker", "-l", "warning", "-c", "2"], env)
            schedule = RUN_DIR / f"celerybeat-schedule-{port}"  # one per portal: two runs never share it
            children.start(
                "beat", [py, "-m", "celery", "-A", "pdportal", "beat", "-l", "warning", "-s", str(schedule)], env
            )

        print(banner(port=port, report=report, sandbox=sandbox_info, steps=steps), flush=True)
        while True:
            dead = children.dead()
            if dead:
                armed["yes"] = False
                name, code = dead[0]
                say(f"{name} exited with {code}; stopping everything (see {RUN_DIR / (name + '.log')})")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        armed["yes"] = False
        say("stopping")
        return 0
    except StepFailed as exc:
        armed["yes"] = False
        say(f"{exc}; see {RUN_DIR / (exc.name + '.log')} and the output above")
        return 1
    finally:
        armed["yes"] = False
        # Nothing may interrupt the clean-up: ignore further stop signals until every child is gone.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        children.stop()
        report_file.unlink(missing_ok=True)
        if stopping["signal"] is not None:
            say("stopped")


if __name__ == "__main__":
    sys.exit(main())
