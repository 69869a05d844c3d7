"""Refetching one incident from PagerDuty into the mirror (webhook enrichment, the sweep, reconcile, write outcomes),
and reading teams known only by reference. PagerDuty is read first; each mirror write is one short transaction."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction

from accounts.mirror import upsert_team
from accounts.models import Team
from incidents import mirror
from incidents.models import Incident
from incidents.sync import sync_incident_details
from pdportal import live, reference_cache
from pdportal.pagerduty import PagerDutyClient, PagerDutyError, format_time

logger = logging.getLogger(__name__)


def refetch_incident(*, client: PagerDutyClient, pd_id: str) -> Incident | None:
    """Refetch one incident, its alerts, notes and log entries from PagerDuty and upsert them."""
    try:
        # Get Incident declares no time_zone parameter, so none is sent (nor by the sync's list, so both store
        # the same JSON); the mirror parses times whatever their offset.
        data = client.get_entity(f"/incidents/{pd_id}")
    except PagerDutyError as exc:
        if exc.status == 404:
            return Incident.objects.filter(pd_id=pd_id).first()
        raise
    existing = Incident.objects.filter(pd_id=pd_id).first()
    # What a webhook is about is recent: the entries since shortly before our last known change (the whole
    # history came with the sync or an earlier refetch), one page.
    params: dict[str, Any] = {"limit": 100}
    if existing is not None and existing.changed_at is not None:
        params["since"] = format_time(existing.changed_at - timedelta(minutes=10))
    log_entries = client.get(f"/incidents/{pd_id}/log_entries", params).get("log_entries", [])
    with transaction.atomic():
        existing = Incident.objects.filter(pd_id=pd_id).first()
        incident = mirror.upsert_incident(data, changed_at=mirror.rest_changed_at(existing, data))
    sync_incident_details(client=client, incident_ids=[pd_id], concurrency=1)
    if incident is not None:
        with transaction.atomic():
            refs = mirror.Refs()
            for entry in log_entries:
                mirror.upsert_log_entry(entry, incident=incident, refs=refs)
    read_unknown_teams(client=client)
    return incident


# A webhook can name a team the mirror has not read yet; at most this many are read per refetch.
UNKNOWN_TEAMS_PER_RUN = 10


def read_unknown_teams(*, client: PagerDutyClient, limit: int = UNKNOWN_TEAMS_PER_RUN) -> int:
    """Read the teams known only by reference (their visibility unknown, so private meanwhile); returns how many.

    Until PagerDuty says a team is public, its objects are hidden from non-members (accounts.visibility): this
    makes that wait seconds (the webhook's refetch) rather than until the nightly sync.
    """
    unknown = list(Team.objects.filter(default_role="").values_list("pd_id", flat=True)[:limit])
    for team_id in unknown:
        try:
            data = client.get_entity(f"/teams/{team_id}")
        except PagerDutyError as exc:
            if exc.status == 404:
                # Gone, or not visible to the account connection: keep it private, and stop asking.
                Team.objects.filter(pd_id=team_id, default_role="").update(default_role=Team.PRIVATE)
                reference_cache.changed()  # an update() sends no post_save
            else:
                logger.info("could not read team %s: %s", team_id, exc)
            continue
        with transaction.atomic():
            upsert_team(data)
    return len(unknown)


def publish_incidents(ids: list[str], event: str) -> None:
    """Tell open pages these incidents changed, with their assignees and services (for notifications)."""
    if not ids:
        return
    assignees = list(
        Incident.assignees.through.objects.filter(incident__pd_id__in=ids).values_list(
            "pagerdutyuser__pd_id", flat=True
        )
    )
    services = list(
        Incident.objects.filter(pd_id__in=ids, service__isnull=False).values_list("service__pd_id", flat=True)
    )
    live.publish(topic="incident", ids=ids, event=event, assignees=assignees, related={"service": services})
