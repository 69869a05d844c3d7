"""A shared, thread-safe request budget per PagerDuty token that waits instead of exceeding the limit."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
DEFAULT_PER_MINUTE = 900  # PagerDuty allows 960/min per token; the margin absorbs other clients of the same key.


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
                    self.waited_seconds += waited
                    return waited
                delay = max(self._sent[0] + WINDOW_SECONDS - now, 0.001)
            self._sleep(delay)
            waited += delay

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
