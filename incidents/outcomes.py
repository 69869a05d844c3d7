"""Writes of unknown outcome (PagerDuty did not answer in time): refetch, then record what really happened."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.clients import account_client
from accounts.models import AuditEntry
from incidents.models import Incident, Note
from incidents.refetch import refetch_incident
from pdportal.pagerduty import TRANSIENT
from pdportal.pagerduty.deadline import background

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
APPLIED = "applied"
NOT_APPLIED = "not_applied"
# A write still not visible this long after it was sent is taken as not applied (PagerDuty answers or drops a
# request well within this; until then a slow write may still land, so "not yet" must not be read as "no").
GIVE_UP_AFTER = timedelta(minutes=10)
SWEEP_BATCH = 50

# Incident fields whose requested value can be read back from PagerDuty's incident as it is.
_SCALARS = ("status", "urgency", "title", "escalation_level")
# Asked for but never shown back (a resolution note becomes a log entry): they do not decide the outcome.
_UNREADABLE = ("type", "resolution")


def _ref_id(value: Any) -> str | None:
    return value.get("id") if isinstance(value, dict) else None


def incident_reflects(data: dict[str, Any], changes: dict[str, Any]) -> bool | None:
    """Whether PagerDuty's incident JSON shows every change of a PUT /incidents/{id}; None when it cannot tell."""
    for key, wanted in changes.items():
        if key in _UNREADABLE:
            continue
        if key in _SCALARS:
            if data.get(key) != wanted:
                return False
        elif key in ("priority", "escalation_policy"):
            if _ref_id(data.get(key)) != _ref_id(wanted):
                return False
        elif key == "assignments":
            wanted_ids = {_ref_id(a.get("assignee")) for a in wanted or [] if isinstance(a, dict)}
            have_ids = {_ref_id(a.get("assignee")) for a in data.get("assignments") or [] if isinstance(a, dict)}
            if not wanted_ids <= have_ids:
                return False
        else:
            return None
    return True


def _verdict(entry: AuditEntry) -> bool | None:
    """True: the mirror (just refetched) shows the write; False: it does not (yet); None: cannot be told."""
    intent = entry.intent if isinstance(entry.intent, dict) else {}
    path = entry.path.rstrip("/")
    target = entry.target
    if entry.method == "PUT" and path == f"/incidents/{target}" and isinstance(intent.get("incident"), dict):
        raw = Incident.objects.filter(pd_id=target).values_list("raw", flat=True).first()
        return incident_reflects(raw, intent["incident"]) if raw else None
    if entry.method == "POST" and path == f"/incidents/{target}/notes" and isinstance(intent.get("note"), dict):
        content = intent["note"].get("content")
        since = entry.created_at - timedelta(minutes=1)
        return Note.objects.filter(incident__pd_id=target, content=content, created_at__gte=since).exists()
    return None


def settle_incident_writes(*, pd_id: str, by: str, final: bool = False) -> int:
    """Settle the unknown writes on one incident from the mirror's (just refetched) state; returns how many.

    A write the state shows is "applied". One it does not show stays unknown (it may still land) unless `final`
    (older than GIVE_UP_AFTER), then "not_applied". One the state cannot decide stays unknown, marked settled by
    the final pass so it is not refetched forever.
    """
    settled = 0
    for entry in AuditEntry.objects.filter(outcome=UNKNOWN, settled_at__isnull=True, target=pd_id):
        verdict = _verdict(entry)
        if verdict is True:
            outcome = APPLIED
        elif final and verdict is False:
            outcome = NOT_APPLIED
        elif final:
            outcome = UNKNOWN
        else:
            continue
        settled += AuditEntry.objects.filter(pk=entry.pk, settled_at__isnull=True).update(
            outcome=outcome, settled_at=timezone.now(), settled_by=by
        )
    return settled


def _refetch_and_settle(*, pd_id: str, final: bool) -> int:
    with background():
        refetch_incident(client=account_client(), pd_id=pd_id)
    return settle_incident_writes(pd_id=pd_id, by="refetch", final=final)


@shared_task(
    name="incidents.outcomes.settle_write",
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=6,
)
def settle_write(entry_id: int) -> None:
    """Refetch the incident an unknown-outcome write was about, and settle the write if its state tells."""
    entry = AuditEntry.objects.filter(pk=entry_id, outcome=UNKNOWN, settled_at__isnull=True).first()
    if entry is None or not entry.target or not entry.path.startswith("/incidents/"):
        return
    _refetch_and_settle(pd_id=entry.target, final=timezone.now() - entry.created_at > GIVE_UP_AFTER)


@shared_task(name="incidents.outcomes.settle_unknown_writes", acks_late=True, ignore_result=True)
def settle_unknown_writes() -> int:
    """Beat: retry every write still unknown (a write may land late), oldest first; returns how many settled."""
    pending = (
        AuditEntry.objects.filter(outcome=UNKNOWN, settled_at__isnull=True, path__startswith="/incidents/")
        .exclude(target="")
        .order_by("created_at")
        .values_list("target", "created_at")[:SWEEP_BATCH]
    )
    oldest: dict[str, Any] = {}
    for target, created in pending:
        oldest.setdefault(target, created)
    settled = 0
    for pd_id, created in oldest.items():
        try:
            settled += _refetch_and_settle(pd_id=pd_id, final=timezone.now() - created > GIVE_UP_AFTER)
        except TRANSIENT as exc:
            logger.warning("could not refetch %s to settle its writes: %s", pd_id, exc)
    return settled


def on_write_outcome_unknown(sender: Any, entry: AuditEntry, **kwargs: Any) -> None:
    """Queue the refetch once the audit entry is committed."""
    if entry.target and entry.path.startswith("/incidents/"):
        transaction.on_commit(lambda: settle_write.delay(entry.pk))
