"""Background delivery of signed webhooks: worker threads, retries with backoff, temporary disabling."""

import collections
import hashlib
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests
from django.db import close_old_connections
from django.db.models import F

from sandbox import knobs

log = logging.getLogger(__name__)

WORKERS = 4
# Consecutive failed attempts after which a subscription is marked temporarily_disabled.
DISABLE_AFTER_FAILURES = 3
USER_AGENT = "PagerDuty-Webhook/V3.0"


@dataclass
class Delivery:
    subscription_id: str
    url: str
    secret: str
    custom_headers: list
    body: bytes
    event_id: str
    event_type: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    due: float = 0.0
    status: str = "pending"
    last_status_code: int | None = None
    last_error: str = ""
    created_at: float = field(default_factory=time.time)

    def summary(self) -> dict:
        return {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
        }


_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per worker thread: repeat deliveries to a receiver skip the TCP handshake."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def sign(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class Dispatcher:
    """A small pool that keeps each subscription's deliveries in order while others proceed."""

    def __init__(self, workers: int = WORKERS):
        self.workers = workers
        self._cond = threading.Condition()
        self._jobs: list[tuple[float, int, Delivery]] = []
        self._inflight: set[str] = set()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._recent = collections.deque(maxlen=1000)
        self._generation = 0

    # -- queue ---------------------------------------------------------------------------------
    def enqueue(self, delivery: Delivery) -> None:
        with self._cond:
            self._jobs.append((delivery.due, next(self._seq), delivery))
            self._recent.append(delivery)
            self._ensure_threads()
            self._cond.notify_all()

    def _ensure_threads(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._run, name=f"sandbox-webhooks-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _take(self) -> tuple[Delivery, int]:
        with self._cond:
            while True:
                now = time.monotonic()
                ready = [j for j in self._jobs if j[2].subscription_id not in self._inflight]
                if ready:
                    job = min(ready, key=lambda j: (j[0], j[1]))
                    if job[0] <= now:
                        self._jobs.remove(job)
                        self._inflight.add(job[2].subscription_id)
                        return job[2], self._generation
                    self._cond.wait(timeout=job[0] - now)
                else:
                    self._cond.wait()

    def _done(self, delivery: Delivery, generation: int, *, retry_at: float | None = None) -> None:
        with self._cond:
            self._inflight.discard(delivery.subscription_id)
            if retry_at is not None and generation == self._generation:
                delivery.due = retry_at
                self._jobs.append((retry_at, next(self._seq), delivery))
            self._cond.notify_all()

    def drop_subscription(self, subscription_id: str) -> None:
        with self._cond:
            for job in [j for j in self._jobs if j[2].subscription_id == subscription_id]:
                self._jobs.remove(job)
                job[2].status = "dropped"
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs) + len(self._inflight)

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._inflight, timeout=timeout)

    def recent(self) -> list[dict]:
        with self._cond:
            return [d.summary() for d in self._recent]

    def clear(self) -> None:
        with self._cond:
            for _due, _seq, delivery in self._jobs:
                delivery.status = "dropped"
            self._jobs.clear()
            self._recent.clear()
            # Attempts already in flight finish, but their retries are discarded.
            self._generation += 1
            self._cond.notify_all()

    # -- work ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            delivery, generation = self._take()
            retry_at = None
            try:
                close_old_connections()
                retry_at = attempt(delivery)
            except Exception:  # a worker must survive anything a receiver or the DB throws at it
                log.exception("webhook delivery %s crashed", delivery.id)
                delivery.status = "failed"
            finally:
                close_old_connections()
                self._done(delivery, generation, retry_at=retry_at)


def attempt(delivery: Delivery) -> float | None:
    """POST one delivery. Returns the monotonic time of the retry, or None when finished."""
    from sandbox.hooks.models import WebhookSubscription

    subs = WebhookSubscription.objects.filter(pk=delivery.subscription_id)
    sub = subs.first()
    if sub is None or not sub.active or sub.temporarily_disabled:
        delivery.status = "dropped"
        return None
    delivery.attempts += 1
    headers = {str(h.get("name")): str(h.get("value")) for h in delivery.custom_headers if h.get("name")}
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-PagerDuty-Signature": sign(delivery.secret, delivery.body),
            "X-Webhook-Id": delivery.id,
            "X-Webhook-Subscription": delivery.subscription_id,
        }
    )
    ok = False
    try:
        response = _session().post(
            delivery.url,
            data=delivery.body,
            headers=headers,
            timeout=knobs.knobs.get("webhook_timeout_seconds"),
            allow_redirects=False,
        )
        delivery.last_status_code = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:300]
    if ok:
        if sub.consecutive_failures:
            subs.update(consecutive_failures=0)
        delivery.status = "delivered"
        return None
    subs.update(consecutive_failures=F("consecutive_failures") + 1)
    failures = subs.values_list("consecutive_failures", flat=True).first() or 0
    if failures >= DISABLE_AFTER_FAILURES:
        subs.update(temporarily_disabled=True)
        delivery.status = "failed"
        dispatcher.drop_subscription(delivery.subscription_id)
        log.warning("webhook subscription %s temporarily disabled after %s failures", sub.id, failures)
        return None
    if delivery.attempts >= knobs.knobs.get("webhook_max_attempts"):
        delivery.status = "failed"
        return None
    delivery.status = "retrying"
    backoff = knobs.knobs.get("webhook_retry_base_seconds") * (2 ** (delivery.attempts - 1))
    return time.monotonic() + backoff


dispatcher = Dispatcher()


def enqueue(delivery: Delivery) -> None:
    delivery.due = time.monotonic()
    dispatcher.enqueue(delivery)


def pending() -> int:
    return dispatcher.pending()


def wait_idle(timeout: float = 10.0) -> bool:
    return dispatcher.wait_idle(timeout)


def recent() -> list[dict]:
    return dispatcher.recent()


def clear() -> None:
    dispatcher.clear()
