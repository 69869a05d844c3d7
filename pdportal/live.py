"""The live bus: changes are published as invalidations on Redis pub/sub, and streamed to browsers over SSE."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL = "pdportal:live"


def publish(*, topic: str, ids: Iterable[str] = (), event: str = "changed") -> None:
    """Tell every open page that `topic` objects (e.g. "incident", "service") with these PagerDuty ids changed.

    Call it after the transaction commits. It never raises: a page that misses an invalidation is
    healed by the reconnect resync, while a failed write path would lose the user's action.
    """
    if not settings.REDIS_URL:
        return
    from pdportal.redis import get_redis

    message = json.dumps({"topic": topic, "ids": sorted(set(ids)), "event": event, "at": time.time()})
    try:
        get_redis().publish(CHANNEL, message)
    except Exception:
        logger.warning("live bus unreachable; %s %s not published", topic, event, exc_info=True)
