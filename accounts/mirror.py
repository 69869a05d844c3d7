"""Mirror upserts for the people directory: PagerDuty teams and users (pdportal/mirror.py has the rules)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pdportal.mirror import Json, Refs, changed, ref_id, save, text

from .models import PagerDutyUser, Team


def upsert_team(data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None) -> Team | None:
    pd_id = ref_id(data)
    if not pd_id:
        return None
    fields: dict[str, Any] = {"name": text(data.get("name") or data.get("summary"), 255)}
    if "description" in data:
        fields["description"] = text(data.get("description"))
    if data.get("type") == "team":
        # A full team object; PagerDuty's own default for a missing `default_role` is "manager" (public).
        role = data.get("default_role")
        fields["default_role"] = role if role in (Team.PUBLIC, Team.PRIVATE) else Team.PRIVATE if role else Team.PUBLIC
    elif not Team.objects.filter(pd_id=pd_id).exists():
        fields["default_role"] = ""  # only a reference: unknown visibility, private until the team is read
    team, _ = save(Team, pd_id, fields, data=data, changed_at=changed(data, changed_at, "updated_at"))
    if refs is not None and team is not None:
        refs.remember(team)
    return team


def upsert_user(data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None) -> PagerDutyUser | None:
    pd_id = ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    fields: dict[str, Any] = {"name": text(data.get("name") or data.get("summary"), 255)}
    for key, limit in (("email", 254), ("role", 32), ("time_zone", 64), ("job_title", 255), ("html_url", 200)):
        if key in data:
            fields[key] = text(data.get(key), limit)
    user, applied = save(PagerDutyUser, pd_id, fields, data=data, changed_at=changed(data, changed_at, "updated_at"))
    if user is not None:
        refs.remember(user)
        if applied and "teams" in data:
            user.teams.set(refs.pks(Team, data.get("teams") or []))
    return user
