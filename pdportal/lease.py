"""Leases with a heartbeat for background jobs: a job whose worker died is taken over within one lease length.

A lease is a Redis key (SET NX EX) whose value is its holder; a thread renews it every third of its length while
the job runs. A worker killed with SIGKILL renews nothing, so its lease lapses within one length; then the sync
watchdog (incidents.sync_watchdog) starts a new run, and /healthz reports the stalled job meanwhile. Without
Redis there is no other worker to race with, and the job runs unguarded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator

from django.conf import settings

from pdportal.redis import get_redis, warn_unavailable

logger = logging.getLogger(__name__)

PREFIX = "pdportal:lock:"  # the key of the locks this module replaces, so a rolling upgrade keeps excluding runs
DEFAULT_TTL_SECONDS = 120

# Renew only while the lease is still ours: a lapsed lease taken by another run must never be extended.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def lease_seconds() -> int:
    """The lease length of long jobs (syncs): SYNC_LEASE_SECONDS, 120 by default."""
    return int(getattr(settings, "SYNC_LEASE_SECONDS", DEFAULT_TTL_SECONDS))


def _redis():

    return get_redis()


class Heartbeat(threading.Thread):
    """Renews a held lease every third of its length until stopped, or until the lease is no longer ours."""

    def __init__(self, client, key: str, token: str, ttl: int) -> None:
        super().__init__(name=f"lease-heartbeat:{key}", daemon=True)
        self.client, self.key, self.token, self.ttl = client, key, token, ttl
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(max(self.ttl / 3, 0.05)):
            try:
                if not self.client.eval(_RENEW, 1, self.key, self.token, self.ttl):
                    self.lost.set()
                    logger.warning("lease %s was lost (lapsed and taken over); no longer renewed", self.key)
                    return
            except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
                warn_unavailable(logger, "could not renew %s", self.key, error=exc)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


@contextlib.contextmanager
def hold(name: str, *, holder: str | None = None, ttl: int | None = None) -> Iterator[bool]:
    """Yield True when this run holds the lease `name` (renewed while the block runs); False when another does.

    `holder` is the Celery task id. When the same id already holds the lease, this is either a redelivery after
    its worker was killed (nobody renews the lease, so it lapses within one `ttl`) or a duplicate delivery while
    the first run goes on (its heartbeat keeps the lease). Waiting out one `ttl` tells the two apart, so a killed
    run is taken over and a duplicate never runs beside the original.
    """
    ttl = int(ttl if ttl is not None else lease_seconds())
    key, token = PREFIX + name, holder or uuid.uuid4().hex
    try:
        client = _redis()
        acquired = bool(client.set(key, token, nx=True, ex=ttl))
        if not acquired and holder and client.get(key) == token.encode():
            deadline = time.monotonic() + ttl + 1
            while not acquired and time.monotonic() < deadline:
                time.sleep(min(1.0, ttl / 4))
                acquired = bool(client.set(key, token, nx=True, ex=ttl))
            if acquired:
                logger.warning("%s: redelivered task %s took over the lease its stopped run left", name, holder)
    except Exception:  # noqa: BLE001 - without Redis there is no other worker to race with
        client, acquired = None, True
    heartbeat = None
    if client is not None and acquired:
        heartbeat = Heartbeat(client, key, token, ttl)
        heartbeat.start()
    try:
        yield acquired
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        if client is not None and acquired:
            with contextlib.suppress(Exception):
                client.eval(_RELEASE, 1, key, token)


def is_held(name: str) -> bool | None:
    """Whether a live run holds the lease `name`; None when Redis cannot tell."""
    try:
        return bool(_redis().exists(PREFIX + name))
    except Exception:  # noqa: BLE001 - /healthz reports Redis itself
        return None
