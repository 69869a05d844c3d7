"""`--simulate`: a bounded background traffic generator that keeps a demo sandbox alive."""

import logging
import os
import random
import threading
import uuid

from django.db import close_old_connections

log = logging.getLogger(__name__)

SUMMARIES = (
    "CPU above 90% on {host}",
    "Disk almost full on {host}",
    "HTTP 5xx rate above 2% on {host}",
    "Replication lag over 30s on {host}",
    "Certificate expires in 7 days on {host}",
    "Queue depth growing on {host}",
    "Memory pressure on {host}",
    "Health check failing on {host}",
)
HOSTS = ("web-01", "web-02", "api-01", "db-primary", "db-replica", "worker-03", "cache-01", "edge-lb")
SEVERITIES = ("critical", "error", "warning", "info")
WRITE_ROLES = ("owner", "admin", "user", "limited_user")


class Simulator:
    """Every `interval` seconds: trigger (via the Events API path), acknowledge or resolve one incident.

    Bounded: it never keeps more than `max_open` of its own incidents open and stops after `max_steps`
    steps (0 = no limit), so a demo left running for days stays small.
    """

    def __init__(self, *, interval: float = 4.0, max_open: int = 20, max_steps: int = 0, seed: int | None = None):
        self.interval = interval
        self.max_open = max_open
        self.max_steps = max_steps
        self.rng = random.Random(seed)
        self.steps = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Simulator":
        self._thread = threading.Thread(target=self._run, name="sandbox-simulate", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval * self.rng.uniform(0.5, 1.5)):
            if self.max_steps and self.steps >= self.max_steps:
                return
            try:
                close_old_connections()
                self.step()
            except Exception:  # one bad step must not end the demo
                log.exception("simulate step failed")
            finally:
                close_old_connections()

    def _user(self, incident=None):
        from sandbox.api.models import User

        if incident is not None:
            assignees = [a.user for a in incident.assignments.select_related("user") if a.user.role in WRITE_ROLES]
            if assignees:
                return self.rng.choice(assignees)
        users = list(User.objects.filter(role__in=WRITE_ROLES))
        return self.rng.choice(users) if users else None

    def step(self) -> str:
        """Perform one action and return its name (tests call this directly)."""
        from sandbox.api import domain
        from sandbox.api.models import Incident, Integration

        self.steps += 1
        mine = Incident.objects.filter(incident_key__startswith="sim-", status__in=("triggered", "acknowledged"))
        open_count = mine.count()
        roll = self.rng.random()
        if open_count < self.max_open and (open_count == 0 or roll < 0.45):
            integrations = list(Integration.objects.select_related("service").filter(service__status="active"))
            if not integrations:
                integrations = list(Integration.objects.select_related("service"))
            if not integrations:
                return "idle"
            integration = self.rng.choice(integrations)
            summary = self.rng.choice(SUMMARIES).format(host=self.rng.choice(HOSTS))
            domain.incident_trigger_from_event(
                integration=integration,
                dedup_key=f"sim-{uuid.uuid4().hex[:16]}",
                summary=summary,
                severity=self.rng.choice(SEVERITIES),
                source=self.rng.choice(HOSTS) + ".example.com",
                custom_details={"generated_by": "sandbox --simulate"},
            )
            return "trigger"
        triggered = list(mine.filter(status="triggered").order_by("created_at")[:20])
        acknowledged = list(mine.filter(status="acknowledged").order_by("created_at")[:20])
        if triggered and (not acknowledged or roll < 0.75):
            incident = self.rng.choice(triggered)
            domain.incident_acknowledge(actor=self._user(incident), incident=incident)
            return "acknowledge"
        if acknowledged:
            incident = self.rng.choice(acknowledged)
            domain.incident_resolve(actor=self._user(incident), incident=incident)
            return "resolve"
        return "idle"


_current: Simulator | None = None


def start(*, interval: float | None = None, max_open: int | None = None) -> Simulator:
    """Start the generator once per process (the server command calls this for --simulate)."""
    global _current
    if _current is None:
        _current = Simulator(
            interval=interval if interval is not None else float(os.environ.get("SANDBOX_SIMULATE_INTERVAL", 4)),
            max_open=max_open if max_open is not None else int(os.environ.get("SANDBOX_SIMULATE_MAX_OPEN", 20)),
        ).start()
    return _current


def start_from_env() -> Simulator | None:
    """Start when SANDBOX_SIMULATE=1 (for servers launched as a separate process)."""
    if os.environ.get("SANDBOX_SIMULATE", "") in ("1", "true", "yes"):
        return start()
    return None
