"""Shared test set-up: needs-a-real-service gates, the embedded Redis, and CI's no-skip rule."""

from __future__ import annotations

import os
import socket
import threading

import pytest

# Under CI every test must run: a skip there means a service CI should have started is missing.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The `sandbox` fixture: a session-wide PagerDuty sandbox server (see tests/sandbox_server.py).
pytest_plugins = ["tests.sandbox_server", "tests.personas"]


def needs(reason: str) -> None:
    """Skip on a newcomer's machine, but fail under CI, when a required service is missing."""
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI (CI=true forbids skips): {report.longrepr}"


def pytest_unconfigure(config):
    # A thread left running (a stream, a pool worker) keeps the interpreter from exiting after the summary,
    # and CI would wait out its whole timeout in silence. Give the exit two minutes, then print every
    # thread's stack and fail.
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(120, exit=True, file=sys.__stderr__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis when REDIS_URL is set (CI); otherwise an embedded Redis-protocol server."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from fakeredis import TcpFakeServer

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _portal_settings(settings, redis_url):
    """Every test talks to a Redis-protocol server and never to the real PagerDuty hosts."""
    from pdportal import redis as portal_redis
    from pdportal import reference_cache

    # Each test has its own mirror: nothing a process kept from another test's reference tables.
    reference_cache.forget()
    settings.REDIS_URL = redis_url
    settings.PAGERDUTY_API_URL = "https://api.pagerduty.test"
    settings.PAGERDUTY_EVENTS_URL = "https://events.pagerduty.test"
    settings.PAGERDUTY_OAUTH_URL = "https://identity.pagerduty.test"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # The deployment most tests describe: PagerDuty reaches PORTAL_URL by webhook (tests of the log-polling
    # mode switch it off).
    settings.PAGERDUTY_WEBHOOKS = True
    # Tests drain stored webhooks themselves (webhooks.drain()), inside their own transaction.
    settings.WEBHOOK_CONSUMER = "sweep"
    portal_redis._client.cache_clear()
    portal_redis._fast_client.cache_clear()
    portal_redis.breaker.reset()
    yield
    portal_redis._client.cache_clear()


def open_transactions() -> int:
    """Transactions the code under test holds open: pytest-django's own per-test atomic blocks do not count."""
    from django.db import connections

    return sum(
        1
        for conn in connections.all(initialized_only=True)
        for block in conn.atomic_blocks
        if not getattr(block, "_from_testcase", False)
    )


class PagerDutyInsideTransaction(AssertionError):
    """A PagerDuty request sent while the code held a database transaction open (DESIGN rule: never)."""


@pytest.fixture
def pagerduty_outside_transactions(monkeypatch):
    """Fail the test when any PagerDuty request (REST, Events, OAuth revoke) leaves inside a database transaction:
    on SQLite every other writer, the webhook receiver included, would wait on the network.

    The one exception is the OAuth token refresh, which holds its grant's row lock on purpose: a refresh token
    may be single-use, so two requests must never spend it at once (accounts/clients.py, access_token_for).
    """
    from pdportal.pagerduty.client import HttpTransport

    send = HttpTransport.send

    def guarded(self, method, url, *args, **kwargs):
        refresh = url.endswith("/oauth/token") and "grant_type=refresh_token" in str(kwargs.get("data") or "")
        if open_transactions() and not refresh:
            raise PagerDutyInsideTransaction(f"{method} {url} was sent inside a database transaction")
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(HttpTransport, "send", guarded)


@pytest.fixture
def require_postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        needs("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/pdportal")


@pytest.fixture
def require_real_redis():
    if not os.environ.get("REDIS_URL"):
        needs("needs a real Redis: set REDIS_URL=redis://127.0.0.1:6379/15")
