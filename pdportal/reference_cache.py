"""What a process derives from the mirror's small reference tables (people, teams, services, policies, priorities),
kept until one of them changes anywhere: a shared generation in Redis, raised on commit of any write to them.

The list page reads five such lists per request (its pickers) and they change a few times a day, while a storm
re-renders the page many times a second. Each app names its reference models (`watch`) in its AppConfig.ready;
a write through the ORM (save, delete, an M2M change) raises the generation, and a write that bypasses signals
(`QuerySet.update`) calls `changed()` itself. Without Redis nothing is kept, and an entry also expires after
MAX_AGE_SECONDS, so a raise that Redis missed costs at most that much staleness.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import redis
from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from pdportal.redis import breaker, get_fast_redis, warn_unavailable

logger = logging.getLogger(__name__)

KEY = "pdportal:reference-generation"
MAX_AGE_SECONDS = 60.0
# One entry per (what, viewer's scope): people who look at the list in the same hour, many times over.
MAX_ENTRIES = 512

_entries: OrderedDict[tuple[str, Hashable], tuple[int, float, Any]] = OrderedDict()
_lock = threading.Lock()


def _raise_generation() -> None:
    if not settings.REDIS_URL or not breaker.available():
        return
    try:
        get_fast_redis().incr(KEY)
    except (redis.RedisError, OSError) as exc:  # never fail a write for Redis: entries expire by age instead
        breaker.failed()
        warn_unavailable(logger, "Could not mark the reference tables changed", error=exc)


def changed(**_: object) -> None:
    """The reference tables changed: this process forgets at once, every process once this commits."""
    forget()
    connection = transaction.get_connection()
    # Once per transaction: a sync page or a storm batch that creates many stubs raises the generation once.
    # (A callback registered in a savepoint that rolls back leaves this list, and the next change registers again.)
    if connection.in_atomic_block and any(entry[1] is _raise_generation for entry in connection.run_on_commit):
        return
    transaction.on_commit(_raise_generation)


def watch(*models_: type[models.Model], through: tuple[type[models.Model], ...] = ()) -> None:
    """Raise the generation on any save or delete of these models, and any change of these M2M through tables."""
    for model in models_:
        label = model._meta.label
        post_save.connect(changed, sender=model, dispatch_uid=f"reference_cache.save.{label}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"reference_cache.delete.{label}")
    for table in through:
        m2m_changed.connect(changed, sender=table, dispatch_uid=f"reference_cache.m2m.{table._meta.label}")


def _generation() -> int | None:
    if not settings.REDIS_URL or not breaker.available():
        return None
    try:
        return int(get_fast_redis().get(KEY) or 0)
    except (redis.RedisError, OSError, ValueError) as exc:  # no Redis: compute every time (correct, only slower)
        breaker.failed()
        warn_unavailable(logger, "Reference generation unavailable", error=exc)
        return None


def remembered[T](what: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or the value it gave for (`what`, `key`) in this process while the tables have not changed."""
    generation = _generation()
    if generation is None:
        return compute()
    now = time.monotonic()
    slot = (what, key)
    with _lock:
        entry = _entries.get(slot)
        if entry is not None and entry[0] == generation and now - entry[1] < MAX_AGE_SECONDS:
            _entries.move_to_end(slot)
            return entry[2]
    value = compute()
    with _lock:
        _entries[slot] = (generation, now, value)
        _entries.move_to_end(slot)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def forget() -> None:
    """Drop every entry of this process (tests start each case from an empty cache)."""
    with _lock:
        _entries.clear()
