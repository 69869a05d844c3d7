"""Per-routing-key throttle of the Events API (about 120 events a minute, like PagerDuty)."""

from sandbox import knobs

limiter = knobs.SlidingWindowLimiter()


def allow(routing_key: str) -> tuple[bool, int]:
    """Count one event; returns (allowed, seconds until a slot frees up)."""
    allowed, _remaining, reset = limiter.hit(routing_key, knobs.knobs.get("events_rate_limit_per_min"))
    return allowed, reset


def clear() -> None:
    limiter.clear()
