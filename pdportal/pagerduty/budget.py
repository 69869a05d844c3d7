"""A shared, thread-safe request budget per PagerDuty token that waits instead of exceeding the limit.

Within a process, `RequestBudget` keeps the sliding window in memory. PagerDuty counts per token across every
process using it (web workers, Celery workers), so a budget can also hold a `SharedWindow`: the same window in
Redis, consulted after the local one. If Redis fails, the local window alone keeps each process in bounds.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from pdportal.redis import warn_unavailable

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
SHARED_RETRY_SECONDS = 30.0
DEFAULT_PER_MINUTE = 900  # PagerDuty allows 960/min per token; the margin absorbs other clients of the same key.


# Atomic sliding window on a sorted set: drop what left the window, then take a slot or say how long to wait.
_TAKE_SLOT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + window - now, 1)
"""


class SharedWindow:
    """One token's sliding window kept in Redis, shared by every process that sends with the token."""

    def __init__(self, *, redis: Any, key: str, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self._script = redis.register_script(_TAKE_SLOT)
        # Wall-clock time: processes compare timestamps in one window, and monotonic clocks are per process.
        self._clock = clock

    def take(self, per_minute: int) -> float:
        """Take a slot: 0.0 when taken, else the seconds until one frees. Raises when Redis fails."""
        now_ms = int(self._clock() * 1000)
        member = f"{now_ms}-{uuid.uuid4().hex[:12]}"
        wait_ms = self._script(keys=[self.key], args=[now_ms, int(WINDOW_SECONDS * 1000), int(per_minute), member])
        return int(wait_ms) / 1000


class RequestBudget:
    """Sliding one-minute window: `acquire()` sleeps until sending one more request stays within `per_minute`."""

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = int(per_minute)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self.peak_per_minute = 0
        self.total = 0
        self.waited_seconds = 0.0
        self.shared: SharedWindow | None = None
        self._shared_failed_at = float("-inf")

    def _purge(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()

    def acquire(self) -> float:
        """Take one slot, sleeping (outside the lock) as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._purge(now)
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    self.total += 1
                    self.peak_per_minute = max(self.peak_per_minute, len(self._sent))
                    break
                delay = max(self._sent[0] + WINDOW_SECONDS - now, 0.001)
            self._sleep(delay)
            waited += delay
        waited += self._acquire_shared()
        with self._lock:
            self.waited_seconds += waited
        return waited

    def _acquire_shared(self) -> float:
        waited = 0.0
        # After a Redis failure, skip the shared window for a while: every request paying a timeout would be
        # worse than the small risk of processes together overshooting (PagerDuty's 429 handling covers that).
        if time.monotonic() - self._shared_failed_at < SHARED_RETRY_SECONDS:
            return waited
        while self.shared is not None:
            try:
                delay = self.shared.take(self.per_minute)
            except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
                self._shared_failed_at = time.monotonic()
                warn_unavailable(logger, "shared request budget unavailable; this process keeps its own", error=exc)
                return waited
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay
        return waited

    def in_last_minute(self) -> int:
        """How many requests were sent during the last 60 seconds."""
        with self._lock:
            self._purge(self._clock())
            return len(self._sent)

    def reset_stats(self) -> None:
        """Forget the peak and totals (benchmarks call this between runs)."""
        with self._lock:
            self.peak_per_minute = len(self._sent)
            self.total = 0
            self.waited_seconds = 0.0


_registry: dict[str, RequestBudget] = {}
_registry_lock = threading.Lock()


def token_key(token: str) -> str:
    """A stable, non-reversible key for a token, so the registry never holds secrets."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def budget_for(token: str, per_minute: int = DEFAULT_PER_MINUTE) -> RequestBudget:
    """The process-wide budget for `token`: every client built with the same token shares it."""
    key = token_key(token)
    with _registry_lock:
        budget = _registry.get(key)
        if budget is None:
            budget = _registry[key] = RequestBudget(per_minute)
        elif budget.per_minute != per_minute:
            budget.per_minute = int(per_minute)
        return budget


def clear_budgets() -> None:
    """Drop every registered budget (tests)."""
    with _registry_lock:
        _registry.clear()
