"""Full sync: fill the mirror from PagerDuty through concurrent pagination, recording progress in SyncState."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents import mirror
from incidents.models import Incident
from pdportal import lease, live
from pdportal.models import SyncState
from pdportal.pagerduty import PagerDutyClient, PagerDutyError, format_time

logger = logging.getLogger(__name__)

SYNC_STATE = "initial_sync"
DEFAULT_DAYS = 90  # PagerDuty's incident list accepts at most a 6-month since/until range.
DEFAULT_DETAIL_LIMIT = 500  # Alerts and notes are per-incident requests: open incidents plus the newest N.

# progress(step, done, total): `done` and `total` count records of the current step (total may be None).
Progress = Callable[[str, int, int | None], None]

STEPS = (
    "priorities",
    "teams",
    "users",
    "escalation_policies",
    "services",
    "templates",
    "incidents",
    "alerts_and_notes",
    "log_entries",
    "change_events",
)


@dataclass
class SyncReport:
    """What one sync run stored, per step."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _Recorder:
    """Writes progress to SyncState (at most a few times per page) and forwards it to the caller's callback.

    Open Settings pages follow along through the live bus, at most about once a second.
    """

    PUBLISH_EVERY = 1.0

    def __init__(self, state: SyncState, progress: Progress | None, steps: list[str] | None = None) -> None:
        self.state = state
        self.progress = progress
        self.steps = steps or list(STEPS)
        self.base = 0
        self.published_at = 0.0

    def report(self, step: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(step, done, total)
        number = self.steps.index(step) + 1 if step in self.steps else 0
        where = {"step": step, "number": number, "count": len(self.steps), "done": done, "total": total}
        SyncState.objects.filter(pk=self.state.pk).update(
            done=self.base + done,
            total=(self.base + total) if total is not None else None,
            progress=where,
            updated_at=timezone.now(),
        )
        now = time.monotonic()
        if now - self.published_at >= self.PUBLISH_EVERY:
            self.published_at = now
            publish_sync_state(self.state.name)

    def finish_step(self, count: int) -> None:
        self.base += count


def publish_sync_state(name: str) -> None:
    """Tell open Settings pages that a sync's progress or outcome changed."""
    live.publish(topic="sync", ids=[name], event="sync.progress")


def _window(days: int) -> dict[str, str]:
    until = timezone.now() + timedelta(minutes=1)
    since = until - timedelta(days=days)
    return {"since": format_time(since), "until": format_time(until)}


def _run_step(
    *,
    name: str,
    client: PagerDutyClient,
    path: str,
    params: dict[str, Any] | None,
    store: Callable[[list[dict[str, Any]], mirror.Refs], int],
    refs: mirror.Refs,
    recorder: _Recorder,
    concurrency: int,
) -> int:
    """Page through one list endpoint and store every page in one transaction; `store` returns how many it kept."""
    count = 0
    totals: dict[str, int] = {"total": 0}

    def on_page(fetched: int, total: int) -> None:
        totals["total"] = total

    for page in client.iter_pages(path, params, concurrency=concurrency, progress=on_page):
        with transaction.atomic():
            count += store(page, refs)
        recorder.report(name, count, max(totals["total"], count))
    return count


def one_by_one(
    upsert: Callable[[dict[str, Any], mirror.Refs], Any],
) -> Callable[[list[dict[str, Any]], mirror.Refs], int]:
    """A page store that upserts each record in turn (kinds without a bulk path)."""

    def store(page: list[dict[str, Any]], refs: mirror.Refs) -> int:
        return sum(1 for record in page if upsert(record, refs) is not None)

    return store


def store_incident_page(page: list[dict[str, Any]], refs: mirror.Refs) -> int:
    """One page of /incidents into the mirror in a handful of queries; returns how many incidents it holds."""
    return len(mirror.upsert_incidents(page, refs=refs))


def sync_incident_details(
    *,
    client: PagerDutyClient,
    incident_ids: Iterable[str],
    concurrency: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fetch the alerts and notes of these incidents (by PagerDuty id) concurrently and upsert them.

    Returns the number of alerts and notes stored. An incident PagerDuty no longer knows is skipped.
    """
    ids = list(dict.fromkeys(incident_ids))
    if not ids:
        return 0
    workers = concurrency or settings.PAGERDUTY_SYNC_CONCURRENCY

    def fetch(pd_id: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        try:
            alerts = client.list_all(f"/incidents/{pd_id}/alerts", concurrency=1)
            notes = client.get(f"/incidents/{pd_id}/notes").get("notes", [])
        except PagerDutyError as exc:
            if exc.status == 404:
                return pd_id, [], []
            raise
        return pd_id, alerts, notes

    incidents = {i.pd_id: i for i in Incident.objects.filter(pd_id__in=ids)}
    refs = mirror.Refs()
    stored = 0
    with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
        for done, (pd_id, alerts, notes) in enumerate(pool.map(fetch, ids), start=1):
            incident = incidents.get(pd_id)
            with transaction.atomic():
                for alert in alerts:
                    if mirror.upsert_alert(alert, incident=incident, refs=refs, update_search=False):
                        stored += 1
                if incident is not None:
                    for note in notes:
                        if mirror.upsert_note(note, incident=incident, refs=refs):
                            stored += 1
                    mirror.refresh_search_text(incident)
            if progress is not None:
                progress(done, len(ids))
    return stored


class SyncAlreadyRunning(Exception):
    """Another live run holds this sync's lease (a worker, or `manage.py pd_sync`)."""


def lease_name(state_name: str) -> str:
    """The lease a running sync keeps alive; its absence while SyncState says running means the run died."""
    return f"sync:{state_name}"


def sync_all(
    *,
    client: PagerDutyClient,
    progress: Progress | None = None,
    days: int = DEFAULT_DAYS,
    detail_limit: int = DEFAULT_DETAIL_LIMIT,
    concurrency: int | None = None,
    state_name: str = SYNC_STATE,
    steps: Iterable[str] | None = None,
) -> SyncReport:
    """Run the sync under its lease (heartbeat every third of SYNC_LEASE_SECONDS); see _sync_all.

    Raises SyncAlreadyRunning when a live run holds the lease; a dead run's lease lapses within one length.
    """
    with lease.hold(lease_name(state_name)) as held:
        if not held:
            raise SyncAlreadyRunning("A sync is already running; its progress is shown on the Settings page.")
        return _sync_all(
            client=client,
            progress=progress,
            days=days,
            detail_limit=detail_limit,
            concurrency=concurrency,
            state_name=state_name,
            steps=steps,
        )


def _sync_all(
    *,
    client: PagerDutyClient,
    progress: Progress | None,
    days: int,
    detail_limit: int,
    concurrency: int | None,
    state_name: str,
    steps: Iterable[str] | None,
) -> SyncReport:
    """Fill the whole mirror from PagerDuty; upserts are keyed by PagerDuty id, so a re-run is harmless.

    Order matters only for speed (references resolve to real rows instead of stubs): directory first, then
    incidents, then what hangs off them. `SyncState(state_name)` shows status, progress and, when done, the
    watermark (the time the sync started) from which the reconcile job reads log entries.
    `steps` limits the run to some of STEPS (for example a quick directory refresh).
    """
    wanted = set(STEPS if steps is None else steps)
    unknown = wanted - set(STEPS)
    if unknown:
        raise ValueError(f"Unknown sync steps: {', '.join(sorted(unknown))}")
    workers = concurrency or settings.PAGERDUTY_SYNC_CONCURRENCY
    started = timezone.now()
    state, _ = SyncState.objects.get_or_create(name=state_name)
    state.status, state.done, state.total, state.error = "running", 0, None, ""
    state.started_at, state.finished_at = started, None
    state.progress = {}
    state.save()
    publish_sync_state(state.name)
    report = SyncReport(started_at=started)
    recorder = _Recorder(state, progress, steps=[name for name in STEPS if name in wanted])
    refs = mirror.Refs()
    window = _window(days)

    def step(name: str, path: str, params: dict[str, Any] | None, store: Callable[[list, mirror.Refs], int]) -> None:
        if name not in wanted:
            return
        count = _run_step(
            name=name,
            client=client,
            path=path,
            params=params,
            store=store,
            refs=refs,
            recorder=recorder,
            concurrency=workers,
        )
        report.counts[name] = count
        recorder.finish_step(count)

    try:
        if "priorities" in wanted:
            priorities = client.list_all("/priorities", concurrency=workers)
            with transaction.atomic():
                report.counts["priorities"] = len(mirror.upsert_priorities(priorities))
            recorder.report("priorities", report.counts["priorities"], report.counts["priorities"])
            recorder.finish_step(report.counts["priorities"])
        step("teams", "/teams", None, one_by_one(lambda d, r: mirror.upsert_team(d, refs=r)))
        step("users", "/users", None, one_by_one(lambda d, r: mirror.upsert_user(d, refs=r)))
        step(
            "escalation_policies",
            "/escalation_policies",
            None,
            one_by_one(lambda d, r: mirror.upsert_escalation_policy(d, refs=r)),
        )
        step("services", "/services", None, one_by_one(lambda d, r: mirror.upsert_service(d, refs=r)))
        step("templates", "/templates", None, one_by_one(lambda d, r: mirror.upsert_template(d, refs=r)))
        # No time_zone: Get Incident (the refetch after a webhook) declares none, so the list is read with the
        # same default rendering and both store the same JSON.
        step("incidents", "/incidents", dict(window), store_incident_page)
        if "alerts_and_notes" in wanted:
            open_ids = list(
                Incident.objects.exclude(status=Incident.Status.RESOLVED).values_list("pd_id", flat=True)[:10_000]
            )
            recent_ids = list(Incident.objects.order_by("-created_at").values_list("pd_id", flat=True)[:detail_limit])
            detail_ids = list(dict.fromkeys(open_ids + recent_ids))
            report.counts["alerts_and_notes"] = sync_incident_details(
                client=client,
                incident_ids=detail_ids,
                concurrency=workers,
                progress=lambda done, total: recorder.report("alerts_and_notes", done, total),
            )
            recorder.finish_step(report.counts["alerts_and_notes"])
        step("log_entries", "/log_entries", dict(window), one_by_one(lambda d, r: mirror.upsert_log_entry(d, refs=r)))
        step(
            "change_events",
            "/change_events",
            dict(window),
            one_by_one(lambda d, r: mirror.upsert_change_event(d, refs=r)),
        )
    except Exception as exc:
        SyncState.objects.filter(pk=state.pk).update(
            status="failed", error=str(exc)[:2000], finished_at=timezone.now(), updated_at=timezone.now()
        )
        report.errors["sync"] = str(exc)
        logger.warning("PagerDuty sync failed: %s", exc)
        publish_sync_state(state.name)
        raise
    report.finished_at = timezone.now()
    SyncState.objects.filter(pk=state.pk).update(
        status="done",
        done=report.total,
        total=report.total,
        watermark=started,
        finished_at=report.finished_at,
        error="",
        progress={},
        updated_at=report.finished_at,
    )
    publish_sync_state(state.name)
    return report
