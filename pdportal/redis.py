"""One Redis connection pool per process, for the live bus, the heartbeat and locks; and a fast-failing client
with a circuit breaker for paths that must never wait on Redis (publishing, the webhook consumer)."""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# A healthy Redis on the same network answers in well under a millisecond: a quarter of a second means hung.
FAST_TIMEOUT_SECONDS = 0.25
# After a failure the fast client is not tried again for this long: a hung Redis costs one timeout, not one per call.
BREAKER_SECONDS = 2.0


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def warn_unavailable(log: logging.Logger, message: str, *args: object, error: BaseException) -> None:
    """Log a lost Redis as one line, since it is an expected and handled state; any other error keeps its traceback."""
    if isinstance(error, redis.RedisError | OSError):
        log.warning(message + " (%s: %s)", *args, type(error).__name__, error)
    else:
        log.warning(message, *args, exc_info=error)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


@cache
def _fast_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=FAST_TIMEOUT_SECONDS,
        socket_connect_timeout=FAST_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


class Breaker:
    """Open for BREAKER_SECONDS after a failure: callers skip Redis (and leave the work to a later retry or sweep)."""

    def __init__(self, seconds: float = BREAKER_SECONDS) -> None:
        self.seconds = seconds
        self._open_until = 0.0
        self._lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def failed(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.seconds

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = Breaker()


def get_fast_redis() -> redis.Redis:
    """A client whose every call gives up after FAST_TIMEOUT_SECONDS; check `breaker.available()` first and call
    `breaker.failed()` when it raises."""
    return _fast_client(settings.REDIS_URL)
