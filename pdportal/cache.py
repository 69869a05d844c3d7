"""The default cache: Redis, answered from a per-process memory cache while Redis is unreachable.

allauth keeps its sign-in rate limits in the default cache, so a plain RedisCache turns "Redis is down" into
"nobody can sign in" (issue 11, finding 5). While Redis fails, each process counts on its own: the limit is
then per process instead of shared, which still bounds guessing, and sign-in keeps working.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger("pdportal.cache")

# After a failure, stay on the local cache this long before trying Redis again, so a hung Redis costs one
# timeout per process and interval, not one per cache call.
RETRY_SECONDS = 15.0
# Short timeouts: a cache call on the sign-in path must not wait on a hung Redis for long.
SOCKET_TIMEOUT = 1.0

_state = threading.Lock()
_down_until = 0.0


def _redis_down(exc: Exception) -> None:
    global _down_until
    with _state:
        first = _down_until <= time.monotonic()
        _down_until = time.monotonic() + RETRY_SECONDS
    if first:
        logger.warning("Redis cache unreachable, using this process's memory for %ss: %s", RETRY_SECONDS, exc)


def _redis_up() -> bool:
    return _down_until <= time.monotonic()


class ResilientRedisCache(RedisCache):
    """RedisCache whose every operation falls back to a process-local LocMemCache when Redis raises."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        options.setdefault("socket_timeout", SOCKET_TIMEOUT)
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
        super().__init__(server, {**params, "OPTIONS": options})
        local = {key: params[key] for key in ("TIMEOUT", "KEY_PREFIX", "VERSION") if key in params}
        # One name per process: Django makes a backend per thread, and LocMemCache shares storage by name.
        self.local = LocMemCache("pdportal-redis-fallback", {**local, "OPTIONS": {"MAX_ENTRIES": 10_000}})


def _resilient(name: str) -> Callable[..., Any]:
    def method(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
        if _redis_up():
            try:
                return getattr(RedisCache, name)(self, *args, **kwargs)
            except RedisError as exc:
                _redis_down(exc)
        return getattr(self.local, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"RedisCache.{name}, or the process-local cache while Redis is unreachable."
    return method


_OPERATIONS = ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr")
_OPERATIONS += ("set_many", "delete_many", "clear")
for _name in _OPERATIONS:
    setattr(ResilientRedisCache, _name, _resilient(_name))
