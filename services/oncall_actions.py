"""Writes for on-call: "take the pager" (an override for a span) and removing an override, under the actor's identity.

PagerDuty first; its answer (and a re-read of the schedule and its on-calls) then updates the mirror, which tells
every open page through the live bus (ids only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accounts.clients import acting_client
from accounts.models import Actor, PagerDutyUser
from accounts.roles import is_portal_admin
from accounts.selectors import pd_user_of
from pdportal.pagerduty import PagerDutyClient

from .models import Schedule, ScheduleOverride
from .oncall_mirror import iso, schedule_refresh


class NotAllowed(Exception):
    """The portal refuses before asking PagerDuty: `str()` says why."""


@dataclass
class TakenPager:
    override_id: str
    schedule: Schedule | None


def may_override_for(*, actor: Actor, user: PagerDutyUser) -> bool:
    """People take the pager for themselves; admins and owners may do it for anyone."""
    me = pd_user_of(actor)
    return (me is not None and me.pk == user.pk) or is_portal_admin(actor)


def take_pager(
    *,
    actor: Actor,
    schedule: Schedule,
    user: PagerDutyUser,
    start: datetime,
    end: datetime,
    client: PagerDutyClient | None = None,
) -> TakenPager:
    """Create an override on `schedule` putting `user` on call from `start` to `end`, as the actor."""
    if not may_override_for(actor=actor, user=user):
        raise NotAllowed("Only PagerDuty admins and owners can put someone else on call.")
    if end <= start:
        raise NotAllowed("The override must end after it starts.")
    pd = acting_client(actor=actor, client=client, operation="schedule override")
    override = pd.create_override(schedule.pd_id, user_id=user.pd_id, start=iso(start), end=iso(end))
    refreshed = schedule_refresh(client=pd, pd_id=schedule.pd_id)
    return TakenPager(override_id=str(override.get("id")), schedule=refreshed)


def may_delete(*, actor: Actor, override: ScheduleOverride) -> bool:
    me = pd_user_of(actor)
    return (me is not None and override.user_id == me.pk) or is_portal_admin(actor)


def override_delete(*, actor: Actor, override: ScheduleOverride, client: PagerDutyClient | None = None) -> None:
    """Delete (or, when under way, cut short) an override: one's own, or anyone's for an admin."""
    if not may_delete(actor=actor, override=override):
        raise NotAllowed("You can remove only your own overrides; an admin can remove anyone's.")
    pd = acting_client(actor=actor, client=client, operation="schedule override")
    schedule_pd_id = override.schedule.pd_id
    pd.delete(f"/schedules/{schedule_pd_id}/overrides/{override.pd_id}")
    schedule_refresh(client=pd, pd_id=schedule_pd_id)
