"""Upserts of the incident mirror from PagerDuty JSON: keyed by PagerDuty id, idempotent, guarded by change time.

The machinery is pdportal/mirror.py; teams and users are written by accounts/mirror.py, services and escalation
policies by services/mirror.py. `upsert` below dispatches any of them by PagerDuty type.

Every `upsert_*` takes one PagerDuty object as PagerDuty renders it (REST v2 body, or a webhook v3 `event.data`,
which is shaped a little differently: `number` and `assignees` instead of `incident_number` and `assignments`)
and returns the mirrored model instance, or None when the object is unusable (no id).

The guard: each record keeps `changed_at`, PagerDuty's time of the last change applied. An upsert whose
`changed_at` is older than the stored one is skipped, so a late webhook never overwrites a newer state. Equal
times are applied again (harmless: the same data gives the same row). When the caller passes no `changed_at`,
the object's own `updated_at` (or creation time) is used.

Only the keys present in the JSON are written: a partial webhook payload leaves the other columns as they were.
A reference to an object the mirror does not have yet (a service, a user…) creates a stub named after the
reference's `summary`, with no `changed_at`, so the next full upsert of that object always wins.

`upsert_incidents` is the sync's bulk path: a whole page in a handful of queries, writing exactly the rows that
`upsert_incident` would write one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.mirror import upsert_team, upsert_user
from accounts.models import PagerDutyUser, Team
from incidents.models import (
    Alert,
    ChangeEvent,
    Incident,
    LogEntry,
    Note,
    Priority,
    Responder,
    StatusUpdate,
    StatusUpdateTemplate,
)
from pdportal.mirror import Json, Refs, parse_time
from pdportal.mirror import changed as _changed
from pdportal.mirror import fk as _fk
from pdportal.mirror import is_stale as _is_stale
from pdportal.mirror import merged_raw as _merged_raw
from pdportal.mirror import ref_id as _ref_id
from pdportal.mirror import save as _save
from pdportal.mirror import text as _text
from services.mirror import upsert_escalation_policy, upsert_service
from services.models import EscalationPolicy, OnCall, Service


def upsert_priority(
    data: Json, *, changed_at: datetime | None = None, order: int | None = None, refs: Refs | None = None
) -> Priority | None:
    """A priority; `order` is its rank (PagerDuty lists priorities highest first; higher order = more urgent)."""
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    fields: dict[str, Any] = {"name": _text(data.get("name") or data.get("summary"), 64)}
    if "description" in data:
        fields["description"] = _text(data.get("description"))
    if order is not None:
        fields["order"] = order
    elif "order" in data and data.get("order") is not None:
        fields["order"] = int(data["order"])
    if data.get("color"):
        fields["color"] = _text(data.get("color"), 16)
    priority, _ = _save(Priority, pd_id, fields, data=data, changed_at=_changed(data, changed_at, "updated_at"))
    if refs is not None and priority is not None:
        refs.remember(priority)
    return priority


def upsert_priorities(items: list[Json]) -> list[Priority]:
    """The whole priority list in PagerDuty's order (first = most urgent), ranked accordingly."""
    count = len(items)
    return [p for i, item in enumerate(items) if (p := upsert_priority(item, order=count - i)) is not None]


def upsert_template(
    data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None
) -> StatusUpdateTemplate | None:
    """A status-update template (`templated_fields` holds message, email_subject and email_body)."""
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    fields: dict[str, Any] = {"name": _text(data.get("name") or data.get("summary"), 255)}
    if "description" in data:
        fields["description"] = _text(data.get("description"))
    if "template_type" in data:
        fields["template_type"] = _text(data.get("template_type"), 64)
    templated = data.get("templated_fields")
    if isinstance(templated, Mapping):
        fields["subject"] = _text(templated.get("email_subject"), 1024)
        fields["email_body"] = _text(templated.get("email_body"))
        fields["message"] = _text(templated.get("message"))
    template, _ = _save(
        StatusUpdateTemplate, pd_id, fields, data=data, changed_at=_changed(data, changed_at, "updated_at")
    )
    return template


def upsert_change_event(
    data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None
) -> ChangeEvent | None:
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    fields: dict[str, Any] = {}
    if "summary" in data or not ChangeEvent.objects.filter(pd_id=pd_id).exists():
        fields["summary"] = _text(data.get("summary"), 1024)
    if "source" in data:
        fields["source"] = _text(data.get("source"), 255)
    timestamp = parse_time(data.get("timestamp"))
    if timestamp is not None:
        fields["timestamp"] = timestamp
    elif not ChangeEvent.objects.filter(pd_id=pd_id).exists():
        fields["timestamp"] = changed_at or timezone.now()
    if "integration" in data:
        fields["integration_id"] = _ref_id(data.get("integration")) or ""
    if "custom_details" in data:
        fields["custom_details"] = data.get("custom_details") or {}
    if "links" in data:
        fields["links"] = data.get("links") or []
    event, applied = _save(
        ChangeEvent, pd_id, fields, data=data, changed_at=_changed(data, changed_at, "updated_at", "timestamp")
    )
    if event is not None and applied and "services" in data:
        event.services.set(refs.pks(Service, data.get("services") or []))
    return event


# -- incidents and what hangs off them ----------------------------------------------------------------------


def incident_search_text(incident: Incident, alert_summaries: Iterable[str] = ()) -> str:
    """What the free-text filter searches: title, number, id and alert summaries, lower-cased."""
    parts = [incident.title or "", f"#{incident.number}", str(incident.number), incident.pd_id, incident.incident_key]
    parts.extend(s for s in alert_summaries if s)
    return " ".join(p for p in parts if p).lower()


SEARCH_ALERTS = 200  # alert summaries per incident in its search text


def _alert_summaries(incident_pks: Iterable[int]) -> dict[int, list[str]]:
    """The summaries the search text holds per incident: its newest 200 alerts', newest first.

    The `pk` tie-break keeps the order the same whichever query reads it (one incident or a page of them).
    """
    pks = list(incident_pks)
    out: dict[int, list[str]] = {pk: [] for pk in pks}
    if not pks:
        return out
    if len(pks) == 1:
        rows = Alert.objects.filter(incident_id=pks[0]).order_by("-created_at", "pk")[:SEARCH_ALERTS]
        out[pks[0]] = list(rows.values_list("summary", flat=True))
        return out
    rows = Alert.objects.filter(incident_id__in=pks).order_by("incident_id", "-created_at", "pk")
    for incident_pk, summary in rows.values_list("incident_id", "summary"):
        kept = out[incident_pk]
        if len(kept) < SEARCH_ALERTS:
            kept.append(summary)
    return out


def refresh_search_text(incident: Incident) -> None:
    summaries = _alert_summaries([incident.pk])[incident.pk]
    text = incident_search_text(incident, summaries)
    if text != incident.search_text:
        incident.search_text = text
        Incident.objects.filter(pk=incident.pk).update(search_text=text)


def _assignee_refs(data: Json) -> list[Any] | None:
    if "assignments" in data:
        return [a.get("assignee") for a in data.get("assignments") or [] if isinstance(a, Mapping)]
    if "assignees" in data:
        return list(data.get("assignees") or [])
    return None


def _rest_shaped(data: Json) -> dict[str, Any]:
    """Webhook incidents say `number` and `assignees`; keep the raw JSON in REST's shape so it never mixes both."""
    out = dict(data)
    if "number" in out and "incident_number" not in out:
        out["incident_number"] = out.pop("number")
    if "assignees" in out and "assignments" not in out:
        out["assignments"] = [{"assignee": ref} for ref in out.pop("assignees") or []]
    return out


class _IncidentChange:
    """One incident payload turned into columns: what both the single-row and the bulk upsert write."""

    __slots__ = ("changed_at", "data", "fields", "pd_id")

    def __init__(self, pd_id: str, data: dict[str, Any], changed_at: datetime | None, fields: dict[str, Any]):
        self.pd_id, self.data, self.changed_at, self.fields = pd_id, data, changed_at, fields


def _incident_change(data: Json, changed_at: datetime | None, refs: Refs) -> _IncidentChange | None:
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    data = _rest_shaped(data)
    changed_at = _changed(data, changed_at, "updated_at", "last_status_change_at", "created_at")
    fields: dict[str, Any] = {}
    number = data.get("incident_number", data.get("number"))
    if number is not None:
        fields["number"] = int(number)
    if "title" in data or "summary" in data:
        fields["title"] = _text(data.get("title") or data.get("summary"), 1024)
    if "description" in data:
        fields["description"] = _text(data.get("description"))
    if data.get("status") in Incident.Status.values:
        fields["status"] = data["status"]
    if data.get("urgency") in Incident.Urgency.values:
        fields["urgency"] = data["urgency"]
    if "priority" in data:
        fields["priority_id"] = _fk(refs, Priority, data.get("priority"))
    if "service" in data:
        fields["service_id"] = _fk(refs, Service, data.get("service"))
    if "escalation_policy" in data:
        fields["escalation_policy_id"] = _fk(refs, EscalationPolicy, data.get("escalation_policy"))
    if "incident_key" in data:
        fields["incident_key"] = _text(data.get("incident_key"), 255)
    if "html_url" in data:
        fields["html_url"] = _text(data.get("html_url"), 200)
    for key in ("created_at", "last_status_change_at", "resolved_at"):
        if key in data:
            value = parse_time(data.get(key))
            if value is not None or key != "created_at":
                fields[key] = value
    if fields.get("status") and fields["status"] != Incident.Status.RESOLVED and "resolved_at" not in data:
        fields["resolved_at"] = None
    counts = data.get("alert_counts")
    if isinstance(counts, Mapping) and counts.get("all") is not None:
        fields["alert_count"] = int(counts["all"])
    fields.update(_timer_fields(data))
    assignees = _assignee_refs(data)
    if assignees is not None and "escalation_policy" in data:
        if data.get("assigned_via") == "direct_assignment":
            fields["escalation_level"] = None  # PagerDuty: a direct assignment does not escalate up the policy
        else:
            ids = [rid for ref in assignees if (rid := _ref_id(ref))]
            fields["escalation_level"] = level_of(refs, fields.get("escalation_policy_id"), ids)
    return _IncidentChange(pd_id, data, changed_at, fields)


# Per Refs (a sync shares one across every incident of a policy): each policy's levels, read once.
_LEVELS: WeakKeyDictionary[Refs, dict[int, list[tuple[set[str], set[str]]]]] = WeakKeyDictionary()


def _is_user_target(target: Any) -> bool:
    return isinstance(target, Mapping) and bool(target.get("id")) and str(target.get("type", "")).startswith("user")


def policy_levels(refs: Refs, policy_pk: int) -> list[tuple[set[str], set[str]]]:
    """The policy's levels in order: (user ids it targets directly, user ids on call there through schedules).

    Two queries per policy, once per Refs."""
    cache = _LEVELS.setdefault(refs, {})
    if policy_pk not in cache:
        raw = EscalationPolicy.objects.filter(pk=policy_pk).values_list("raw", flat=True).first() or {}
        rules = raw.get("escalation_rules") if isinstance(raw, Mapping) else None
        direct = [
            {str(t.get("id")) for t in (rule.get("targets") or []) if _is_user_target(t)}
            for rule in (rules if isinstance(rules, list) else [])
            if isinstance(rule, Mapping)
        ]
        oncall: dict[int, set[str]] = {}
        for level, user_id in OnCall.objects.filter(escalation_policy_id=policy_pk).values_list(
            "escalation_level", "user__pd_id"
        ):
            oncall.setdefault(level, set()).add(user_id)
        count = max([len(direct), *oncall]) if (direct or oncall) else 0
        cache[policy_pk] = [
            (direct[n - 1] if n <= len(direct) else set(), oncall.get(n, set())) for n in range(1, count + 1)
        ]
    return cache[policy_pk]


def level_of(refs: Refs, policy_pk: int | None, assignee_ids: Iterable[str]) -> int | None:
    """The level of the policy whose targets hold these assignees: a level naming them directly first, then one
    where they are on call through a schedule (a person can be both: level 1's schedule, level 2 by name)."""
    wanted = {a for a in assignee_ids if a}
    if policy_pk is None or not wanted:
        return None
    levels = policy_levels(refs, policy_pk)
    for number, (direct, _) in enumerate(levels, start=1):
        if wanted <= direct:
            return number
    for number, (direct, oncall) in enumerate(levels, start=1):
        if wanted <= direct | oncall:
            return number
    for number, (direct, oncall) in enumerate(levels, start=1):
        if wanted & (direct | oncall):
            return number
    return None


def rest_changed_at(instance: models.Model | None, data: Json) -> datetime | None:
    """The change time to store for a REST body of `instance` (a refetch, or PagerDuty's answer to our own write).

    PagerDuty's REST `updated_at` has whole seconds while a webhook's `occurred_at` has milliseconds: a REST body
    in the same second as the last webhook must still apply (it is at least as new), keeping the finer time. It
    carries what no webhook does (`pending_actions`, `incidents_responders`), so dropping it would lose them.
    """
    updated = parse_time(data.get("updated_at"))
    stored = getattr(instance, "changed_at", None)
    if updated is None or stored is None:
        return updated
    if updated >= stored.replace(microsecond=0):
        return max(updated, stored)
    return updated


def _pending_at(actions: list[Any], kind: str) -> datetime | None:
    """The earliest `at` of the pending actions of this type."""
    times = [
        at
        for action in actions
        if isinstance(action, Mapping) and action.get("type") == kind
        if (at := parse_time(action.get("at"))) is not None
    ]
    return min(times) if times else None


def _timer_fields(data: Json) -> dict[str, Any]:
    """The timer columns from a REST incident's `pending_actions`.

    A webhook's incident has no `pending_actions`: the timers its new status rules out are dropped at once (an
    acknowledged incident does not escalate, a triggered one has no acknowledgement to lapse), and the refetch
    that follows every webhook brings PagerDuty's new ones.
    """
    fields: dict[str, Any] = {}
    status = data.get("status")
    actions = data.get("pending_actions")
    if isinstance(actions, list):
        fields["next_escalation_at"] = _pending_at(actions, "escalate")
        fields["unacknowledge_at"] = _pending_at(actions, "unacknowledge")
    elif status in Incident.Status.values:
        if status != Incident.Status.TRIGGERED:
            fields["next_escalation_at"] = None
        if status != Incident.Status.ACKNOWLEDGED:
            fields["unacknowledge_at"] = None
    if status in Incident.Status.values and status != Incident.Status.ACKNOWLEDGED:
        fields["snoozed_until"] = None
    return fields


def _fields_for(change: _IncidentChange, instance: Incident | None, summaries: Iterable[str]) -> dict[str, Any]:
    """The columns to write to `instance` (None: a new row), search text included."""
    fields = dict(change.fields)
    if instance is None:
        # A brand-new row needs the NOT NULL columns even when the payload is partial.
        fields.setdefault("number", 0)
        fields.setdefault("title", "")
        fields.setdefault("status", Incident.Status.TRIGGERED)
        fields.setdefault("created_at", change.changed_at or timezone.now())
    probe = Incident(pd_id=change.pd_id, **{**_columns(instance), **fields})
    fields["search_text"] = incident_search_text(probe, summaries)
    return fields


def upsert_incident(data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None) -> Incident | None:
    """An incident from a REST body or a webhook's `event.data` (pass the event's `occurred_at` as changed_at)."""
    refs = refs or Refs()
    change = _incident_change(data, changed_at, refs)
    if change is None:
        return None
    pd_id, data, changed_at = change.pd_id, change.data, change.changed_at

    with transaction.atomic():
        instance = Incident.objects.select_for_update().filter(pd_id=pd_id).first()
        if _is_stale(instance, changed_at):
            return instance
        # The search text is written with the row: a new incident has no alerts yet, so no extra query.
        summaries = () if instance is None else _alert_summaries([instance.pk])[instance.pk]
        fields = _fields_for(change, instance, summaries)
        incident, applied = _save(
            Incident, pd_id, fields, data=data, changed_at=changed_at, instance=instance, lookup=False
        )
        if incident is None or not applied:
            return incident
        refs.remember(incident)
        if "teams" in data:
            incident.teams.set(refs.pks(Team, data.get("teams") or []))
        assignees = _assignee_refs(data)
        if assignees is not None:
            incident.assignees.set(refs.pks(PagerDutyUser, assignees))
        if isinstance(data.get("incidents_responders"), list):
            _set_responders({incident.pk: data["incidents_responders"]}, clear={incident.pk}, refs=refs)
    return incident


def upsert_incidents(
    items: Iterable[Json], *, changed_at: datetime | None = None, refs: Refs | None = None
) -> list[Incident]:
    """Many incidents (a sync page) in a handful of queries, with exactly the rows `upsert_incident` would write.

    One locking SELECT of the stored rows, one query for the alert summaries of the rows being updated, one
    INSERT of the new rows, one statement writing the changed ones, and per M2M one INSERT on the through table
    (plus one DELETE when stored rows are among them) for the rows whose payload names that relation.
    The changed_at guard is the single path's: an older change is skipped, an equal one applied again.
    Returns the mirrored incident of every item that has an id, in order (the stored row where it was older).
    """
    return upsert_incidents_at(((item, changed_at) for item in items), refs=refs)


def upsert_incidents_at(items: Iterable[tuple[Json, datetime | None]], *, refs: Refs | None = None) -> list[Incident]:
    """upsert_incidents with each payload's own change time: a batch of webhook events, each `occurred_at`."""
    refs = refs or Refs()
    changes = [c for item, at in items if (c := _incident_change(item, at, refs)) is not None]
    out: list[Incident] = []
    # A repeated id must see its predecessor's write, as one-by-one upserts would: split the batch there.
    chunk: list[_IncidentChange] = []
    seen: set[str] = set()
    for change in changes:
        if change.pd_id in seen:
            out.extend(_upsert_incident_batch(chunk, refs))
            chunk, seen = [], set()
        chunk.append(change)
        seen.add(change.pd_id)
    out.extend(_upsert_incident_batch(chunk, refs))
    return out


def _upsert_incident_batch(changes: list[_IncidentChange], refs: Refs) -> list[Incident]:
    """upsert_incidents for changes with distinct ids."""
    if not changes:
        return []
    with transaction.atomic():
        stored = {i.pd_id: i for i in Incident.objects.select_for_update().filter(pd_id__in=[c.pd_id for c in changes])}
        fresh = [c for c in changes if not _is_stale(stored.get(c.pd_id), c.changed_at)]
        summaries = _alert_summaries(stored[c.pd_id].pk for c in fresh if c.pd_id in stored)
        now = timezone.now()
        result: dict[str, Incident] = dict(stored)
        created: list[tuple[_IncidentChange, Incident]] = []
        updated: list[tuple[_IncidentChange, Incident]] = []
        update_fields: set[str] = {"raw", "synced_at", "search_text"}
        for change in fresh:
            instance = stored.get(change.pd_id)
            if instance is None:
                fields = _fields_for(change, None, ())
                incident = Incident(pd_id=change.pd_id, raw=dict(change.data), changed_at=change.changed_at, **fields)
                created.append((change, incident))
                continue
            fields = _fields_for(change, instance, summaries[instance.pk])
            for name, value in fields.items():
                setattr(instance, name, value)
            instance.raw = _merged_raw(instance, change.data)
            if change.changed_at is not None:
                instance.changed_at = change.changed_at
                update_fields.add("changed_at")
            instance.synced_at = now  # as save()'s auto_now would
            update_fields.update(fields)
            updated.append((change, instance))
        if created:
            try:
                with transaction.atomic():
                    Incident.objects.bulk_create([incident for _, incident in created])
            except IntegrityError:
                # A concurrent writer (webhook vs. sync) inserted one of them first: the single path settles
                # each against the row that won, under the same guard.
                for change, _ in created:
                    result[change.pd_id] = upsert_incident(change.data, changed_at=change.changed_at, refs=refs)
                created = []
            else:
                _fill_pks([incident for _, incident in created])
        if updated:
            _write_back([incident for _, incident in updated], sorted(_attnames(update_fields)))
        applied = created + updated
        for change, incident in applied:
            result[change.pd_id] = incident
            refs.remember(incident)
        # Rows inserted just now have no through rows yet: only the updated ones need clearing first.
        stored_pks = {incident.pk for _, incident in updated}
        teams = {
            incident.pk: refs.pks(Team, change.data.get("teams") or [])
            for change, incident in applied
            if "teams" in change.data
        }
        _set_m2m(Incident.teams.through, "team_id", teams, clear=stored_pks)
        assigned = {
            incident.pk: refs.pks(PagerDutyUser, assignees)
            for change, incident in applied
            if (assignees := _assignee_refs(change.data)) is not None
        }
        _set_m2m(Incident.assignees.through, "pagerdutyuser_id", assigned, clear=stored_pks)
        responders = {
            incident.pk: change.data["incidents_responders"]
            for change, incident in applied
            if isinstance(change.data.get("incidents_responders"), list)
        }
        _set_responders(responders, clear=stored_pks, refs=refs)
    return [result[c.pd_id] for c in changes]


def _responder_row(incident_pk: int, data: Any, refs: Refs) -> Responder | None:
    if not isinstance(data, Mapping):
        return None
    user_pk = _fk(refs, PagerDutyUser, data.get("user"))
    if user_pk is None:
        return None
    state = str(data.get("state") or Responder.State.PENDING)
    return Responder(
        incident_id=incident_pk,
        user_id=user_pk,
        state=state[:16],
        message=_text(data.get("message")),
        requester_id=_fk(refs, PagerDutyUser, data.get("requester")),
        requested_at=parse_time(data.get("requested_at")),
        updated_at=parse_time(data.get("updated_at")),
    )


def _set_responders(wanted: dict[int, list[Any]], *, clear: set[int], refs: Refs) -> None:
    """Replace each incident's responders with PagerDuty's list (REST `incidents_responders`): one DELETE, one
    INSERT for the whole batch. A person requested twice keeps the latest request."""
    stale = [pk for pk in wanted if pk in clear]
    if stale:
        Responder.objects.filter(incident_id__in=stale).delete()
    rows: dict[tuple[int, int], Responder] = {}
    for pk, items in wanted.items():
        for item in items:
            row = _responder_row(pk, item, refs)
            if row is not None:
                rows[(pk, row.user_id)] = row
    if rows:
        Responder.objects.bulk_create(rows.values())


def upsert_responder(data: Json, *, incident: Incident, changed_at: datetime | None = None, refs: Refs | None = None):
    """One responder's state from a webhook's `incident_responder` (responder.added / responder.replied).

    Guarded by time: an answer older than the stored one is skipped. Returns the row, or None (no user).
    """
    refs = refs or Refs()
    row = _responder_row(incident.pk, data, refs)
    if row is None:
        return None
    row.updated_at = row.updated_at or changed_at
    stored = Responder.objects.filter(incident_id=incident.pk, user_id=row.user_id).first()
    if stored is None:
        row.requested_at = row.requested_at or changed_at
        row.save()
        return row
    if stored.updated_at is not None and row.updated_at is not None and row.updated_at < stored.updated_at:
        return stored
    stored.state, stored.updated_at = row.state, row.updated_at or stored.updated_at
    if row.message:
        stored.message = row.message
    if row.requester_id:
        stored.requester_id = row.requester_id
    stored.save(update_fields=["state", "updated_at", "message", "requester"])
    return stored


def _write_back(incidents: list[Incident], fields: list[str]) -> None:
    """UPDATE these (locked, existing) rows' `fields` in one statement.

    An INSERT ... ON CONFLICT (pd_id) DO UPDATE rather than bulk_update: bulk_update compiles a CASE WHEN per
    row and column, which costs more Python than the one-by-one saves it replaces. The copies carry no pk, so the
    only conflict is the pd_id one that turns each row into an update of its stored row.
    """
    names = [f.attname for f in Incident._meta.concrete_fields if not f.primary_key]
    copies = [Incident(**{name: getattr(incident, name) for name in names}) for incident in incidents]
    Incident.objects.bulk_create(copies, update_conflicts=True, unique_fields=["pd_id"], update_fields=fields)


def _attnames(names: Iterable[str]) -> list[str]:
    """Model field names (`service_id` -> `service`), as bulk_create's update_fields wants them."""
    by_attname = {f.attname: f.name for f in Incident._meta.concrete_fields}
    return [by_attname.get(name, name) for name in names]


def _fill_pks(incidents: list[Incident]) -> None:
    """Backends that cannot return ids from a bulk INSERT leave pk unset: read them back in one query."""
    missing = [i for i in incidents if i.pk is None]
    if missing:
        pks = dict(Incident.objects.filter(pd_id__in=[i.pd_id for i in missing]).values_list("pd_id", "pk"))
        for incident in missing:
            incident.pk = pks[incident.pd_id]


def _set_m2m(through: type[models.Model], target: str, wanted: dict[int, list[int]], *, clear: set[int]) -> None:
    """`.set()` on each incident's relation, all at once: one DELETE (of the `clear` rows' links), one INSERT."""
    stale = [pk for pk in wanted if pk in clear]
    if stale:
        through.objects.filter(incident_id__in=stale).delete()
    links = [through(incident_id=pk, **{target: t}) for pk, targets in wanted.items() for t in dict.fromkeys(targets)]
    if links:
        through.objects.bulk_create(links)


def _columns(instance: Incident | None) -> dict[str, Any]:
    if instance is None:
        return {}
    return {"number": instance.number, "title": instance.title, "incident_key": instance.incident_key}


def _incident_pk(refs: Refs, ref: Any) -> int | None:
    return _fk(refs, Incident, ref) if ref else None


def upsert_alert(
    data: Json,
    *,
    changed_at: datetime | None = None,
    incident: Incident | None = None,
    refs: Refs | None = None,
    update_search: bool = True,
) -> Alert | None:
    """An alert; `incident` overrides the alert's own incident reference (e.g. after moving alerts)."""
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    fields: dict[str, Any] = {}
    if incident is not None:
        fields["incident_id"] = incident.pk
    elif "incident" in data:
        fields["incident_id"] = _incident_pk(refs, data.get("incident"))
    if "status" in data:
        fields["status"] = _text(data.get("status"), 16)
    if "severity" in data:
        fields["severity"] = _text(data.get("severity"), 16)
    if "summary" in data:
        fields["summary"] = _text(data.get("summary"), 1024)
    if "alert_key" in data:
        fields["alert_key"] = _text(data.get("alert_key"), 255)
    if "service" in data:
        fields["service_id"] = _fk(refs, Service, data.get("service"))
    if "body" in data:
        fields["body"] = data.get("body") or {}
    created = parse_time(data.get("created_at"))
    existing = Alert.objects.filter(pd_id=pd_id).first()
    if created is not None:
        fields["created_at"] = created
    elif existing is None:
        fields["created_at"] = changed_at or timezone.now()
    if existing is None:
        fields.setdefault("status", "triggered")
    previous_incident = existing.incident_id if existing is not None else None
    alert, applied = _save(
        Alert,
        pd_id,
        fields,
        data=data,
        changed_at=_changed(data, changed_at, "updated_at", "resolved_at", "created_at"),
        instance=existing,
        lookup=False,
    )
    if alert is not None and applied and update_search:
        for incident_pk in {previous_incident, alert.incident_id} - {None}:
            target = Incident.objects.filter(pk=incident_pk).first()
            if target is not None:
                refresh_search_text(target)
    return alert


def _upsert_incident_child(
    model: type[Note] | type[StatusUpdate],
    data: Json,
    *,
    incident: Incident | None,
    changed_at: datetime | None,
    refs: Refs | None,
    text_field: str,
    own_fields: Callable[[Json, Refs], dict[str, Any]],
) -> Any:
    """A note or a status update: immutable text hung off an incident, known by its own PagerDuty id."""
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    incident_pk = incident.pk if incident is not None else _incident_pk(refs, data.get("incident"))
    existing = model.objects.filter(pd_id=pd_id).first()
    if incident_pk is None and existing is None:
        return None
    fields: dict[str, Any] = {}
    if incident_pk is not None:
        fields["incident_id"] = incident_pk
    fields.update(own_fields(data, refs))
    created = parse_time(data.get("created_at"))
    if created is not None:
        fields["created_at"] = created
    elif existing is None:
        fields["created_at"] = changed_at or timezone.now()
    if existing is None:
        fields.setdefault(text_field, "")
    obj, _ = _save(
        model,
        pd_id,
        fields,
        data=data,
        changed_at=_changed(data, changed_at, "updated_at", "created_at"),
        instance=existing,
        lookup=False,
    )
    return obj


def _note_fields(data: Json, refs: Refs) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "content" in data:
        fields["content"] = _text(data.get("content"))
    if "user" in data:
        fields["user_id"] = _fk(refs, PagerDutyUser, data.get("user"))
    return fields


def _status_update_fields(data: Json, refs: Refs) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "message" in data:
        fields["message"] = _text(data.get("message"))
    if "subject" in data:
        fields["subject"] = _text(data.get("subject"), 1024)
    if "sender" in data:
        fields["sender_id"] = _fk(refs, PagerDutyUser, data.get("sender"))
    return fields


def upsert_note(
    data: Json,
    *,
    incident: Incident | None = None,
    changed_at: datetime | None = None,
    refs: Refs | None = None,
) -> Note | None:
    """A note (REST `IncidentNote`, or a webhook `incident_note` carrying its `incident` reference)."""
    return _upsert_incident_child(
        Note,
        data,
        incident=incident,
        changed_at=changed_at,
        refs=refs,
        text_field="content",
        own_fields=_note_fields,
    )


def upsert_status_update(
    data: Json,
    *,
    incident: Incident | None = None,
    changed_at: datetime | None = None,
    refs: Refs | None = None,
) -> StatusUpdate | None:
    return _upsert_incident_child(
        StatusUpdate,
        data,
        incident=incident,
        changed_at=changed_at,
        refs=refs,
        text_field="message",
        own_fields=_status_update_fields,
    )


def upsert_log_entry(
    data: Json,
    *,
    incident: Incident | None = None,
    changed_at: datetime | None = None,
    refs: Refs | None = None,
) -> LogEntry | None:
    """A log entry; log entries never change once written, so the guard is trivially satisfied."""
    pd_id = _ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    fields: dict[str, Any] = {}
    if incident is not None:
        fields["incident_id"] = incident.pk
    elif "incident" in data:
        fields["incident_id"] = _incident_pk(refs, data.get("incident"))
    fields["type"] = _text(data.get("type"), 64)
    if "summary" in data:
        fields["summary"] = _text(data.get("summary"))
    fields["created_at"] = parse_time(data.get("created_at")) or changed_at or timezone.now()
    if "agent" in data:
        fields["agent"] = data.get("agent") or {}
    if "channel" in data:
        fields["channel"] = data.get("channel") or {}
    entry, _ = _save(LogEntry, pd_id, fields, data=data, changed_at=_changed(data, changed_at, "created_at"))
    if entry is not None and entry.type == "snooze_log_entry" and entry.incident_id:
        _note_snooze(entry, data)
    return entry


def _note_snooze(entry: LogEntry, data: Json) -> None:
    """A snooze_log_entry names when the snooze ends (`changed_actions`: unacknowledge at). The incident's snooze is
    its newest snooze entry's end (a second, shorter snooze replaces a longer one); Incident.snooze_end shows it
    while it is still the pending unacknowledge."""
    actions = data.get("changed_actions")
    until = _pending_at(actions, "unacknowledge") if isinstance(actions, list) else None
    if until is None:
        return
    newer = LogEntry.objects.filter(
        incident_id=entry.incident_id, type="snooze_log_entry", created_at__gt=entry.created_at
    ).exists()
    if not newer:
        Incident.objects.filter(pk=entry.incident_id).update(snoozed_until=until)


# -- dispatch ---------------------------------------------------------------------------------------------

UPSERTS = {
    "incident": upsert_incident,
    "alert": upsert_alert,
    "incident_note": upsert_note,
    "note": upsert_note,
    "incident_status_update": upsert_status_update,
    "status_update": upsert_status_update,
    "priority": upsert_priority,
    "service": upsert_service,
    "escalation_policy": upsert_escalation_policy,
    "team": upsert_team,
    "user": upsert_user,
    "template": upsert_template,
    "change_event": upsert_change_event,
}


def upsert(data: Json, *, changed_at: datetime | None = None, kind: str | None = None, **kwargs: Any):
    """Upsert any mirrored object by its PagerDuty `type` (or `kind`); `*_log_entry` types are log entries.

    Returns the instance, or None for an unknown type or an object without an id.
    """
    kind = (kind or str(data.get("type") or "")).removesuffix("_reference")
    if kind.endswith("log_entry"):
        return upsert_log_entry(data, changed_at=changed_at, **kwargs)
    func = UPSERTS.get(kind)
    if func is None:
        return None
    return func(data, changed_at=changed_at, **kwargs)
