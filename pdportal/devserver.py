"""`make run`: migrate, embedded Redis, the seeded sandbox, sync, webhook registration, portal, worker and beat.

Everything runs as child processes of this one; Ctrl-C (or SIGTERM) stops them all. Ports come from PORT (portal,
8000) and SANDBOX_PORT (sandbox, 8010); REDIS_URL unset starts the embedded Redis-protocol server on
EMBEDDED_REDIS_PORT (6390). Logs of the children go to .run/<name>.log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN_DIR = REPO / ".run"
SANDBOX_TOKEN_DEFAULT = "sandbox-account-token"
SANDBOX_OAUTH_CLIENT_ID = "pdportal-sandbox"
SANDBOX_OAUTH_CLIENT_SECRET = "sandbox-secret"
READY_TIMEOUT = 120.0


class Children:
    """The processes we started, stopped in reverse order."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str], *, quiet: bool = True) -> subprocess.Popen:
        RUN_DIR.mkdir(exist_ok=True)
        log = open(RUN_DIR / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it for its whole life
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=env,
            stdout=log if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            start_new_session=True,  # our Ctrl-C handling decides when children stop
        )
        self.procs.append((name, proc))
        return proc

    def dead(self) -> list[tuple[str, int]]:
        return [(name, proc.returncode) for name, proc in self.procs if proc.poll() is not None]

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def wait_for_port(port: int, proc: subprocess.Popen, name: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {RUN_DIR / (name + '.log')}")
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
            raise SystemExit(f"{name} exited with {proc.returncode}; see {RUN_DIR / (name + '.log')}")
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


def portal_env(*, port: int, sandbox_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    token = env.get("SANDBOX_API_TOKEN") or SANDBOX_TOKEN_DEFAULT
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pdportal.settings",
            "PYTHONUNBUFFERED": "1",
            "REDIS_URL": redis_url,
            "PORTAL_URL": env.get("PORTAL_URL") or f"http://127.0.0.1:{port}",
            "PAGERDUTY_API_URL": sandbox_url,
            "PAGERDUTY_EVENTS_URL": sandbox_url,
            "PAGERDUTY_OAUTH_URL": sandbox_url,
            "PAGERDUTY_API_TOKEN": token,
            "PAGERDUTY_CLIENT_ID": env.get("SANDBOX_OAUTH_CLIENT_ID") or SANDBOX_OAUTH_CLIENT_ID,
            "PAGERDUTY_CLIENT_SECRET": env.get("SANDBOX_OAUTH_CLIENT_SECRET") or SANDBOX_OAUTH_CLIENT_SECRET,
            "DEBUG": env.get("DEBUG") or "1",
            "HTTPS": "0",
        }
    )
    return env


def bootstrap() -> int:
    """In a child with the portal's environment: the initial sync (with progress) and the webhook subscription."""
    import django

    django.setup()
    from accounts.selectors import account_client
    from incidents.sync import sync_all

    client = account_client()
    last = {"step": None}

    def progress(step: str, done: int, total: int | None) -> None:
        if step != last["step"]:
            last["step"] = step
            say(f"  sync: {step}…")

    report = sync_all(client=client, progress=progress)
    say(f"initial sync stored {report.total} records ({', '.join(f'{k} {v}' for k, v in report.counts.items())})")
    try:
        from services.actions import webhook_subscription_ensure

        result = webhook_subscription_ensure(client=client)
        sub = result.subscription
        say(f"webhook subscription {result.action}: {sub.pd_id if sub else '-'} -> {sub.url if sub else '-'}")
    except Exception as exc:  # noqa: BLE001 - the portal still works: reconcile heals what webhooks would bring
        say(f"WARNING: webhook registration failed ({exc}); live updates will come from reconcile only")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bootstrap"]:
        return bootstrap()

    port = int(os.environ.get("PORT") or 8000)
    sandbox_port = int(os.environ.get("SANDBOX_PORT") or 8010)
    py = sys.executable
    children = Children()
    stopping = {"flag": False}

    def on_signal(signum, frame):
        stopping["flag"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        base_env = dict(os.environ)
        if not redis_url:
            redis_port = int(os.environ.get("EMBEDDED_REDIS_PORT") or 6390)
            say(f"REDIS_URL is unset: starting the embedded Redis-protocol server on port {redis_port}")
            proc = children.start("redis", [py, "-m", "pdportal.embedded_redis", "--port", str(redis_port)], base_env)
            wait_for_port(redis_port, proc, "redis")
            redis_url = f"redis://127.0.0.1:{redis_port}/0"

        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = portal_env(port=port, sandbox_url=sandbox_url, redis_url=redis_url)

        say("migrating the portal database")
        subprocess.run([py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)

        say(f"starting the PagerDuty sandbox (seeded) on {sandbox_url}")
        sandbox_env = {k: v for k, v in env.items() if not k.startswith("DJANGO_SETTINGS")}
        sandbox_db = os.environ.get("SANDBOX_DB") or str(REPO / "sandbox.sqlite3")
        sandbox = children.start(
            "sandbox",
            [py, "-m", "sandbox", "--seed", "--db", sandbox_db, "--port", str(sandbox_port), "--host", "127.0.0.1"],
            sandbox_env,
        )
        wait_for_http(
            f"{sandbox_url}/priorities",
            sandbox,
            "sandbox",
            headers={"Authorization": f"Token token={env['PAGERDUTY_API_TOKEN']}"},
        )

        # The web process must be up before the subscription is registered: PagerDuty may ping at once.
        say(f"starting the portal on http://127.0.0.1:{port}")
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

        say("initial sync and webhook registration")
        subprocess.run([py, "-m", "pdportal.devserver", "bootstrap"], cwd=REPO, env=env, check=True)

        say("starting the Celery worker and beat")
        children.start("worker", [py, "-m", "celery", "-A", "pdportal", "worker", "-l", "warning", "-c", "2"], env)
        RUN_DIR.mkdir(exist_ok=True)
        children.start(
            "beat",
            [py, "-m", "celery", "-A", "pdportal", "beat", "-l", "warning", "-s", str(RUN_DIR / "celerybeat-schedule")],
            env,
        )

        print(
            "\n"
            f"  PD Portal is running:   http://127.0.0.1:{port}/\n"
            '  Sign in:                click "Sign in with PagerDuty" (/accounts/pagerduty/login/); the sandbox\n'
            "                          lists its seeded users: pick Rita Responder (responder), Adam Admin (admin)\n"
            "                          or Oscar Observer (read-only).\n"
            f"  PagerDuty sandbox:      {sandbox_url}  (API token {env['PAGERDUTY_API_TOKEN']})\n"
            f"  Health:                 http://127.0.0.1:{port}/healthz\n"
            f"  Logs:                   {RUN_DIR}/*.log\n"
            "  Stop:                   Ctrl-C\n",
            flush=True,
        )
        while True:
            dead = children.dead()
            if dead:
                name, code = dead[0]
                say(f"{name} exited with {code}; stopping everything (see {RUN_DIR / (name + '.log')})")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"{' '.join(map(str, exc.cmd[1:3]))} failed with {exc.returncode}")
        return 1
    finally:
        children.stop()


if __name__ == "__main__":
    sys.exit(main())
