"""One overall deadline shared by every PagerDuty call made for a person's request, retries included."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """`seconds` is the budget a person was promised; `expires` the monotonic time it runs out."""

    seconds: float
    expires: float

    def remaining(self) -> float:
        return max(self.expires - time.monotonic(), 0.0)


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("pagerduty_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the work under way, or None (background tasks: only the per-attempt timeout applies)."""
    return _current.get()


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """Bound every PagerDuty call inside the block to `seconds` in all (None: no deadline).

    A deadline already in force is never extended: an inner block gets the earlier of the two.
    """
    outer = _current.get()
    if seconds is None:
        yield outer
        return
    limit = Deadline(seconds=float(seconds), expires=time.monotonic() + float(seconds))
    if outer is not None and outer.expires <= limit.expires:
        limit = outer
    token = _current.set(limit)
    try:
        yield limit
    finally:
        _current.reset(token)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """No deadline inside the block: background work keeps its longer budgets even when run inside a request."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
