"""The bench environment: a throwaway database, Redis, the sandbox and production-mode uvicorn workers on loopback."""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import httpx

from bench.core import NotAvailable

# The checkout whose product is measured: this one, or (with `--compare REF`) a worktree of REF that the bench
# code of this checkout drives (bench/compare.py sets BENCH_CHECKOUT and BENCH_CODE_DIR for the child run).
REPO = Path(os.environ.get("BENCH_CHECKOUT") or Path(__file__).resolve().parent.parent).resolve()
# A directory whose only package is this bench: put first on a child's path, it imports our bench code and
# nothing else of ours (the product still comes from REPO).
BENCH_CODE_DIR = Path(os.environ.get("BENCH_CODE_DIR") or Path(__file__).resolve().parent.parent)
SANDBOX_TOKEN = "sandbox-account-token"
WEBHOOK_SECRET = "bench-webhook-secret-" + "0" * 24
# A throwaway key: the bench database and its sessions are deleted at the end of the run.
SECRET_KEY = "bench-only-secret-key-" + "k" * 48
# The bench's own database on the machine's Redis (flushed at the start and end): BENCH_REDIS_DB picks another
# when several people bench on one machine.
REAL_REDIS = ("127.0.0.1", 6379, int(os.environ.get("BENCH_REDIS_DB") or 14))
BENCH_APPLICATION_NAME = "pdportal-bench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit (500 SSE sockets need more than 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process in KiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def open_files_matching(pid: int, needle: str) -> int:
    """How many of a process's file descriptors point at a path containing `needle`."""
    count = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return 0
    for entry in entries:
        try:
            if needle in os.readlink(entry):
                count += 1
        except OSError:
            continue
    return count


def _child_setup() -> None:
    """In the child before exec: a higher open-file limit, and die with the bench (never an orphan server)."""
    raise_nofile()
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Proc:
    """A child process with its output in a log file; stopped by its own pid only."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes to it for its whole life
        self.popen = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=_child_setup
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


class Sandbox:
    """A running sandbox: base URL, token and the /_sandbox/ control API."""

    def __init__(self, url: str, proc: Proc, size: int) -> None:
        self.url = url
        self.proc = proc
        self.size = size
        self.token = SANDBOX_TOKEN
        self.http = httpx.Client(base_url=url, timeout=60.0)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.token}", "Accept": "application/vnd.pagerduty+json;version=2"}

    def knobs(self, **values: Any) -> dict:
        response = self.http.post("/_sandbox/knobs", json=values)
        response.raise_for_status()
        return response.json()["knobs"]

    def clear_log(self) -> None:
        self.http.delete("/_sandbox/requests").raise_for_status()

    def requests_log(self, **params: Any) -> list[dict]:
        response = self.http.get("/_sandbox/requests", params=params)
        response.raise_for_status()
        return response.json()["requests"]

    def close(self) -> None:
        self.http.close()


class BenchEnv:
    """Everything the benchmarks share within one run; each piece starts on first use and stops at close()."""

    def __init__(self, *, keep: bool = False, log: Callable[[str], None] = print) -> None:
        self.keep = keep
        self.log = log
        self.workdir = Path(tempfile.mkdtemp(prefix="pdportal-bench-"))
        self.procs: list[Proc] = []
        self.sandbox_port = free_port()
        self.worker_ports = [free_port(), free_port()]
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.database_url = ""
        self.database_kind = ""
        self.sqlite_path: Path | None = None
        self.pg_dbname = ""
        self._pg_admin_url = ""
        self.redis_url = ""
        self.redis_kind = ""
        self._workers: list[Proc] | None = None
        self._workers_error: str | None = None
        self._sandbox_error: str | None = None
        self._sandbox: Sandbox | None = None
        self._cookie: str | None = None
        self.user = None
        self.profile = False  # --profile: benchmarks also write pyinstrument profiles
        self.full_sync = False  # --full-sync: the sync benchmark also runs the whole sync_all
        self.nofile = raise_nofile()

    # -- set-up -------------------------------------------------------------------------------------------------

    def setup(self) -> None:
        self._database()
        self._redis()
        os.environ.update(self.portal_env())
        # Only in this process: its asyncio loops are load generators, and they count rows between phases.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        # The bench process counts and drains rows itself: no consumer thread of its own racing the workers'.
        os.environ["WEBHOOK_CONSUMER"] = "sweep"
        import django

        django.setup()
        if self.pg_dbname:
            from django.conf import settings

            # Tag the bench's own connections so pg_stat_activity can tell them from the workers'.
            settings.DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = BENCH_APPLICATION_NAME
        from django.core.management import call_command

        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        # Production mode serves hashed, compressed static files from a manifest, exactly like the Docker image.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.log(
            f"bench env: {self.database_kind} database, {self.redis_kind} Redis ({self.redis_url}), "
            f"migrated and collected static in {time.monotonic() - started:.1f} s; work dir {self.workdir}"
        )

    def _database(self) -> None:
        pg = os.environ.get("BENCH_DATABASE_URL", "").strip()
        if pg:
            import psycopg

            parsed = urlparse(pg)
            self.pg_dbname = f"pdportal_bench_{os.getpid()}_{secrets.token_hex(3)}"
            self._pg_admin_url = urlunparse(parsed._replace(path="/postgres"))
            with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_dbname}"')
            self.database_url = urlunparse(parsed._replace(path=f"/{self.pg_dbname}"))
            self.database_kind = "PostgreSQL"
        else:
            self.sqlite_path = self.workdir / "bench.sqlite3"
            self.database_url = f"sqlite:///{self.sqlite_path}"
            self.database_kind = "SQLite"

    def _redis(self) -> None:
        import redis

        host, port, db = REAL_REDIS
        try:
            if os.environ.get("BENCH_REDIS") == "embedded":
                raise ConnectionError("BENCH_REDIS=embedded")
            client = redis.Redis(host=host, port=port, db=db, socket_connect_timeout=1, socket_timeout=2)
            client.ping()
            # db 14 belongs to the bench: start from an empty one so queued tasks of other runs do not interfere.
            client.flushdb()
            client.close()
            self.redis_url = f"redis://{host}:{port}/{db}"
            self.redis_kind = "real"
            return
        except Exception:
            pass
        port = free_port()
        args = [sys.executable, "-m", "pdportal.embedded_redis", "--port", str(port)]
        proc = self.spawn("embedded-redis", args, env=dict(os.environ))
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        wait_until(lambda: bool(client.ping()), timeout=20, what="the embedded Redis")
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.redis_kind = "embedded"
        assert proc.alive()

    def portal_env(self) -> dict[str, str]:
        """The environment of a production-mode portal process (plain HTTP on loopback)."""
        first = f"http://127.0.0.1:{self.worker_ports[0]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "PAGERDUTY_"))}
        env.pop("CI", None)
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        env.pop("WEBHOOK_CONSUMER", None)  # the bench process's own choice, not the deployment's
        env.update(
            {
                # BENCH_SETTINGS_MODULE: measure a what-if settings module (e.g. a connection pool) without editing.
                "DJANGO_SETTINGS_MODULE": os.environ.get("BENCH_SETTINGS_MODULE") or "pdportal.settings",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "DEBUG": "0",
                "HTTPS": "0",
                "SECRET_KEY": SECRET_KEY,
                "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
                "PORTAL_URL": first,
                "CSRF_TRUSTED_ORIGINS": ",".join(f"http://127.0.0.1:{p}" for p in self.worker_ports),
                "PAGERDUTY_API_URL": self.sandbox_url,
                "PAGERDUTY_EVENTS_URL": self.sandbox_url,
                "PAGERDUTY_OAUTH_URL": self.sandbox_url,
                "PAGERDUTY_API_TOKEN": SANDBOX_TOKEN,
                "PAGERDUTY_WEBHOOK_SECRETS": WEBHOOK_SECRET,
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def spawn(self, name: str, args: list[str], *, env: dict[str, str]) -> Proc:
        proc = Proc(name, args, env=env, log_dir=self.workdir)
        self.procs.append(proc)
        return proc

    # -- portal -------------------------------------------------------------------------------------------------

    def workers(self) -> list[str]:
        """Base URLs of two production-mode uvicorn processes sharing the database and Redis (started once)."""
        if self._workers_error:
            raise NotAvailable(self._workers_error)
        if self._workers is None:
            procs = []
            for i, port in enumerate(self.worker_ports):
                args = [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "pdportal.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ]
                procs.append(self.spawn(f"worker-{'AB'[i]}", args, env=self.portal_env()))
            for proc, port in zip(procs, self.worker_ports, strict=True):
                try:
                    wait_until(
                        lambda port=port: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code > 0,
                        timeout=60,
                        what=f"uvicorn on port {port}",
                    )
                except RuntimeError as exc:
                    # Later benchmarks fail fast instead of waiting for the same broken start-up again.
                    self._workers_error = f"the portal's uvicorn workers did not start ({exc}): {proc.tail(3)}"
                    for p in procs:
                        p.stop()
                    raise RuntimeError(f"{exc}; its log ends with:\n{proc.tail()}") from None
            self._workers = procs
        return [f"http://127.0.0.1:{p}" for p in self.worker_ports]

    def worker_pids(self) -> list[int]:
        self.workers()
        assert self._workers is not None
        return [p.pid for p in self._workers]

    def bench_user(self):
        """A signed-in portal user linked to a PagerDuty responder (role "user")."""
        if self.user is not None:
            return self.user
        from django.contrib.auth import get_user_model

        from accounts.models import PagerDutyUser, Profile

        pd_user, _ = PagerDutyUser.objects.get_or_create(
            pd_id="PBENCH0",
            defaults={"name": "Bench Viewer", "email": "bench.viewer@example.com", "role": "user", "time_zone": "UTC"},
        )
        user, created = get_user_model().objects.get_or_create(
            username="bench-viewer", defaults={"email": "bench.viewer@example.com"}
        )
        if created:
            user.set_unusable_password()
            user.save()
        Profile.objects.update_or_create(user=user, defaults={"pd_user": pd_user, "role": "user", "time_zone": "UTC"})
        self.user = user
        return user

    def session_cookie(self) -> str:
        """A `sessionid` for the bench user, created the way django.contrib.auth.login() stores one."""
        if self._cookie is None:
            from importlib import import_module

            from django.conf import settings
            from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

            user = self.bench_user()
            store = import_module(settings.SESSION_ENGINE).SessionStore()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.save()
            self._cookie = store.session_key
        return self._cookie

    def cookies(self) -> dict[str, str]:
        from django.conf import settings

        return {settings.SESSION_COOKIE_NAME: self.session_cookie()}

    # -- sandbox ------------------------------------------------------------------------------------------------

    def sandbox(self, *, size: int = 5000) -> Sandbox:
        """The PagerDuty sandbox seeded with `size` incidents (started once; knobs reset by the caller)."""
        if self._sandbox is not None:
            return self._sandbox
        if self._sandbox_error:
            raise NotAvailable(self._sandbox_error)
        if not (REPO / "sandbox" / "server.py").exists():
            raise NotAvailable("the sandbox server (sandbox/server.py) is not built yet")
        db = self.workdir / "sandbox.sqlite3"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "PAGERDUTY_"))}
        for name in ("DATABASE_URL", "REDIS_URL", "DEBUG", "HTTPS", "SECRET_KEY", "ALLOWED_HOSTS"):
            env.pop(name, None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "sandbox.settings",
                "SANDBOX_DATABASE_URL": f"sqlite:///{db}",
                "SANDBOX_API_TOKEN": SANDBOX_TOKEN,
                "PYTHONPATH": str(REPO),
            }
        )
        started = time.monotonic()
        seed = subprocess.run(
            [sys.executable, "-m", "sandbox", "--db", str(db), "--seed", "--seed-only", "--size", str(size)],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=240,
        )
        if seed.returncode != 0:
            self._sandbox_error = "seeding the sandbox failed (see the first benchmark that needed it)"
            raise RuntimeError(f"seeding the sandbox failed: {seed.stderr.decode(errors='replace')[-800:]}")
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seeded = time.monotonic() - started
        proc = self.spawn(
            "sandbox",
            [sys.executable, "-m", "sandbox", "--db", str(db), "--port", str(self.sandbox_port), "--host", "127.0.0.1"],
            env=env,
        )
        sandbox = Sandbox(self.sandbox_url, proc, size)
        try:
            wait_until(lambda: sandbox.http.get("/_sandbox/knobs").status_code == 200, timeout=60, what="the sandbox")
        except RuntimeError as exc:
            self._sandbox_error = f"the sandbox did not start ({exc})"
            raise RuntimeError(f"{exc}; its log ends with:\n{proc.tail()}") from None
        self.log(f"sandbox: {size} incidents seeded in {seeded:.1f} s, serving on {self.sandbox_url}")
        self._sandbox = sandbox
        return sandbox

    # -- tear-down ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if self.redis_kind == "real":
            with contextlib.suppress(Exception):
                import redis

                host, port, db = REAL_REDIS
                redis.Redis(host=host, port=port, db=db).flushdb()
        if self.pg_dbname:
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_dbname}" WITH (FORCE)')
        if self.keep:
            self.log(f"kept the work dir {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
