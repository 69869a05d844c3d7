"""Writes of the incident console: PagerDuty first, under the actor's identity; then the mirror takes its answer.

Every function raises `pdportal.pagerduty.PagerDutyError` when PagerDuty refuses (the mirror is then untouched),
or `ActionRefused` for a request the portal itself rejects before sending anything.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.audit import record_local
from accounts.clients import acting_client, events_client
from accounts.errors import NoAccountConnection
from accounts.models import Actor, Connection
from accounts.selectors import connection_mode, pd_user_of
from accounts.visibility import scope_of
from incidents import mirror
from incidents.forms import filter_query
from incidents.models import Alert, ChangeEvent, Incident, SavedView
from incidents.outcomes import incident_reflects
from incidents.selectors import (
    change_events_visible_to,
    find_incident,
    incidents_visible_to,
    notifications_visible_to,
)
from incidents.tasks import schedule_full_sync
from pdportal import live
from pdportal.pagerduty import (
    Conflict,
    DeadlineExceeded,
    InvalidInput,
    NetworkError,
    NotFound,
    PagerDutyClient,
    PagerDutyError,
    format_time,
)
from pdportal.pagerduty.client import BULK_LIMIT
from services.actions import NoEventsIntegration, service_events_routing_key
from services.models import Service

logger = logging.getLogger(__name__)


class ActionRefused(Exception):
    """The portal refuses the action before asking PagerDuty (e.g. snoozing an incident that is not acknowledged)."""


def sync_start(*, actor: AbstractBaseUser) -> None:
    """Queue a full sync now (it also runs nightly); its progress shows on the Settings page."""
    if connection_mode() == Connection.Mode.NONE:
        raise NoAccountConnection()
    schedule_full_sync()
    record_local(actor=actor, operation="Start a full sync", target="sync")


def _publish(ids: Iterable[str], topic: str = "incident") -> None:
    ids = [i for i in ids if i]
    transaction.on_commit(lambda: live.publish(topic=topic, ids=ids))


def _apply_incident(data: dict[str, Any]) -> Incident | None:
    """Write PagerDuty's answer to the mirror; it is the newest state, so it wins unless it carries an older time."""
    # A webhook about this very change may have landed first, with a finer time in the same second.
    existing = Incident.objects.filter(pd_id=data.get("id") or "").only("changed_at").first()
    changed_at = mirror.rest_changed_at(existing, data) or timezone.now()
    return mirror.upsert_incident(data, changed_at=changed_at)


def _newest_log(client: PagerDutyClient, pd_id: str) -> list[dict[str, Any]]:
    """The incident's newest log entries, so the timeline shows what just happened (best effort)."""
    try:
        body = client.get(f"/incidents/{pd_id}/log_entries", {"limit": 25, "is_overview": False})
    except PagerDutyError as exc:
        logger.info("could not refresh log entries of %s: %s", pd_id, exc)
        return []
    entries = body.get("log_entries", []) if isinstance(body, dict) else []
    return [e for e in entries if isinstance(e, dict)]


def _finish(client: PagerDutyClient, data: dict[str, Any], *, extra_ids: Sequence[str] = ()) -> Incident:
    # Read PagerDuty before the transaction: never hold a database transaction open across an HTTP call.
    entries = _newest_log(client, str(data.get("id") or ""))
    with transaction.atomic():
        incident = _apply_incident(data)
        assert incident is not None
        for entry in entries:
            mirror.upsert_log_entry(entry, incident=incident)
        _publish([incident.pd_id, *extra_ids])
    return incident


def _user_ref(pd_id: str) -> dict[str, str]:
    return {"id": pd_id, "type": "user_reference"}


def _policy_ref(pd_id: str) -> dict[str, str]:
    return {"id": pd_id, "type": "escalation_policy_reference"}


# -- single incident ----------------------------------------------------------------------------------------------


def incident_update(*, actor: Actor, incident: Incident, changes: dict[str, Any]) -> Incident:
    """Update Incident (PUT /incidents/{id}) with these changes, then mirror PagerDuty's answer."""
    client = acting_client(actor=actor)
    path, entity = f"/incidents/{incident.pd_id}", {"type": "incident_reference", **changes}
    try:
        data = client.update(path, entity)
    except NetworkError as exc:
        # No answer to a PUT PagerDuty may have applied: resend only after reading the incident shows it is not
        # there yet. Past the person's deadline (DeadlineExceeded) nothing more is sent; a refetch settles it.
        if not exc.outcome_unknown or isinstance(exc, DeadlineExceeded):
            raise
        data = client.get_entity(path)
        if incident_reflects(data, entity) is not True:
            data = client.update(path, entity)
    return _finish(client, data)


# Single-incident actions whose meaning changes when PagerDuty's incident is no longer in the status the page
# showed: acknowledging (or snoozing, escalating, ...) a resolved incident would reopen it or fail half-way.
STATUS_SENSITIVE: dict[str, frozenset[str]] = {
    action: frozenset({Incident.Status.RESOLVED})
    for action in ("acknowledge", "snooze", "escalate", "reassign", "responders", "merge", "resolve")
}


def _clock(value: str | None) -> str:
    at = mirror.parse_time(value)
    return timezone.localtime(at).strftime("%H:%M") if at else "an unknown time"


def incident_check_status(*, actor: Actor, incident: Incident, action: str, expected: str) -> None:
    """Refuse `action` when PagerDuty's incident left `expected` (the status the page showed) for one where the
    action means something else; nothing is changed in PagerDuty then, and the mirror takes PagerDuty's answer.

    Reads PagerDuty itself (GET /incidents/{id}), not only the mirror, which may not have heard of the change yet.
    Raises ActionRefused with who changed it and when, e.g. "#171 was resolved by Rita Responder at 03:12; ...".
    """
    wrong = STATUS_SENSITIVE.get(action)
    if not wrong or not expected or expected in wrong:
        return
    client = acting_client(actor=actor)
    body = client.get(f"/incidents/{incident.pd_id}")
    data = body.get("incident") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return
    current = str(data.get("status") or "")
    if current == expected or current not in wrong:
        return
    with transaction.atomic():
        # The page was stale: the mirror (and every open page) learns what PagerDuty says now.
        _apply_incident(data)
        _publish([incident.pd_id])
    by = data.get("last_status_change_by") if isinstance(data.get("last_status_change_by"), dict) else {}
    who = str(by.get("summary") or "someone")
    raise ActionRefused(
        f"#{incident.number} was {current} by {who} at {_clock(data.get('last_status_change_at'))}; "
        "nothing was changed."
    )


def incident_acknowledge(*, actor: Actor, incident: Incident) -> Incident:
    return incident_update(actor=actor, incident=incident, changes={"status": "acknowledged"})


def incident_resolve(*, actor: Actor, incident: Incident, resolution: str = "") -> Incident:
    changes: dict[str, Any] = {"status": "resolved"}
    if resolution.strip():
        changes["resolution"] = resolution.strip()
    return incident_update(actor=actor, incident=incident, changes=changes)


def incident_retrigger(*, actor: Actor, incident: Incident) -> Incident:
    return incident_update(actor=actor, incident=incident, changes={"status": "triggered"})


def incident_reassign(
    *, actor: Actor, incident: Incident, user_ids: Sequence[str] = (), escalation_policy_id: str | None = None
) -> Incident:
    if bool(user_ids) == bool(escalation_policy_id):
        raise ActionRefused("Reassign to users or to one escalation policy.")
    if user_ids:
        changes = {"assignments": [{"assignee": _user_ref(u)} for u in user_ids]}
    else:
        changes = {"escalation_policy": _policy_ref(str(escalation_policy_id))}
    return incident_update(actor=actor, incident=incident, changes=changes)


def incident_escalate(*, actor: Actor, incident: Incident, level: int) -> Incident:
    return incident_update(actor=actor, incident=incident, changes={"escalation_level": int(level)})


def incident_set_fields(
    *,
    actor: Actor,
    incident: Incident,
    title: str | None = None,
    priority_id: str | None = None,
    urgency: str | None = None,
    service_id: str | None = None,
) -> Incident:
    """Change title, priority, urgency and/or service (only what is given)."""
    changes: dict[str, Any] = {}
    if title:
        changes["title"] = title
    if priority_id:
        changes["priority"] = {"id": priority_id, "type": "priority_reference"}
    if urgency:
        changes["urgency"] = urgency
    if service_id:
        changes["service"] = {"id": service_id, "type": "service_reference"}
    if not changes:
        raise ActionRefused("Nothing to change.")
    return incident_update(actor=actor, incident=incident, changes=changes)


def incident_snooze(*, actor: Actor, incident: Incident, seconds: int) -> Incident:
    """Snooze (POST /incidents/{id}/snooze); like PagerDuty, only an acknowledged incident can be snoozed."""
    if incident.status != Incident.Status.ACKNOWLEDGED:
        raise ActionRefused("Only an acknowledged incident can be snoozed.")
    client = acting_client(actor=actor)
    data = client.snooze_incident(incident.pd_id, int(seconds))
    return _finish(client, data)


def incident_merge(*, actor: Actor, incident: Incident, sources: Sequence[str]) -> Incident:
    """Merge other incidents into this one (PUT /incidents/{id}/merge); the sources resolve in PagerDuty.

    `sources` are PagerDuty ids or incident numbers ("#12" or "12"); numbers are looked up in the mirror.
    """
    sources = [s for s in dict.fromkeys(_merge_source_ids(actor, sources)) if s != incident.pd_id]
    if not sources:
        raise ActionRefused("Choose at least one other incident to merge into this one.")
    client = acting_client(actor=actor)
    client.merge_incidents(incident.pd_id, sources)
    # PagerDuty answers a merge with a reference, whose summary ("[#12] Disk full") is not the title: the target's
    # state comes from reading it back. The merge itself has happened, so a failed read only leaves the mirror
    # for the webhook or reconcile to update.
    try:
        target = _finish(client, client.get_entity(f"/incidents/{incident.pd_id}"), extra_ids=sources)
    except PagerDutyError as exc:
        logger.info("could not refresh merge target %s: %s", incident.pd_id, exc)
        _publish([incident.pd_id, *sources])
        target = incident
    # The merged incidents changed too (resolved, alerts moved): mirror PagerDuty's view of each.
    merged = []
    for source_id in sources:
        try:
            merged.append(client.get_entity(f"/incidents/{source_id}"))
        except PagerDutyError as exc:
            logger.info("could not refresh merged incident %s: %s", source_id, exc)
    with transaction.atomic():
        for data in merged:
            _apply_incident(data)
    _sync_alerts(client, target)
    return target


def _merge_source_ids(actor: Actor, refs: Iterable[str]) -> list[str]:
    sees_everything = scope_of(actor).unrestricted
    ids = []
    for ref in (r.strip() for r in refs):
        if not ref:
            continue
        found = find_incident(viewer=actor, ref=ref)
        if found is None and ref.lstrip("#").isdigit():
            # PagerDuty only takes ids: a number we have not mirrored cannot be sent as it is.
            raise ActionRefused(f"No incident #{ref.lstrip('#')} is known here. Give its PagerDuty id instead.")
        if found is None and not sees_everything:
            # Someone whose view is scoped merges only incidents they can see (an API key would let PagerDuty
            # merge any); the same words whether the id exists or not.
            raise ActionRefused(f"No incident {ref} is known here.")
        ids.append(found.pd_id if found is not None else ref)
    return ids


def _sync_alerts(client: PagerDutyClient, incident: Incident) -> None:
    try:
        alerts = client.list_all(f"/incidents/{incident.pd_id}/alerts", concurrency=2)
    except PagerDutyError as exc:
        logger.info("could not refresh alerts of %s: %s", incident.pd_id, exc)
        return
    with transaction.atomic():
        for alert in alerts:
            mirror.upsert_alert(alert, incident=incident, update_search=False)
        mirror.refresh_search_text(incident)


def note_create(*, actor: Actor, incident: Incident, content: str) -> Any:
    """Create Incident Note, then mirror the note PagerDuty returns."""
    if not content.strip():
        raise ActionRefused("A note cannot be empty.")
    client = acting_client(actor=actor)
    data = client.create(f"/incidents/{incident.pd_id}/notes", {"content": content}, wrap="note")
    with transaction.atomic():
        note = mirror.upsert_note(data, incident=incident)
        _publish([incident.pd_id])
    return note


def responders_request(
    *, actor: Actor, incident: Incident, user_ids: Sequence[str] = (), policy_ids: Sequence[str] = (), message: str
) -> dict[str, Any]:
    """Ask users and/or escalation policies to join (POST /incidents/{id}/responder_requests)."""

    requester = pd_user_of(actor)
    if requester is None:
        raise ActionRefused("Your portal account is not linked to a PagerDuty user.")
    targets = [_user_ref(u) for u in user_ids] + [_policy_ref(p) for p in policy_ids]
    client = acting_client(actor=actor)
    result = client.create_responder_request(
        incident.pd_id, requester_id=requester.pd_id, message=message, targets=targets
    )
    try:
        _finish(client, client.get_entity(f"/incidents/{incident.pd_id}"))
    except PagerDutyError as exc:
        logger.info("could not refresh %s after a responder request: %s", incident.pd_id, exc)
    return result


def status_update_publish(
    *,
    actor: Actor,
    incident: Incident,
    message: str,
    subject: str | None = None,
    html_message: str | None = None,
) -> Any:
    client = acting_client(actor=actor)
    data = client.create_status_update(
        incident.pd_id, message=message, subject=subject or None, html_message=html_message or None
    )
    entries = _newest_log(client, incident.pd_id)
    with transaction.atomic():
        update = mirror.upsert_status_update(data, incident=incident)
        for entry in entries:
            mirror.upsert_log_entry(entry, incident=incident)
        _publish([incident.pd_id])
    return update


def template_render(
    *, actor: Actor, template_id: str, incident: Incident, message: str | None = None
) -> dict[str, str]:
    """Render Template for this incident: {message, email_subject, email_body} as PagerDuty fills them in."""
    client = acting_client(actor=actor)
    body = client.render_template(template_id, incident_id=incident.pd_id, message=message or None)
    fields = body.get("templated_fields", body) if isinstance(body, dict) else {}
    return {k: str(v) for k, v in (fields or {}).items() if v is not None}


# -- alerts ---------------------------------------------------------------------------------------------------------


def alert_resolve(*, actor: Actor, incident: Incident, alert_id: str) -> Alert | None:
    """Update Incident Alert: resolve one alert."""
    client = acting_client(actor=actor)
    data = client.update(
        f"/incidents/{incident.pd_id}/alerts/{alert_id}", {"type": "alert_reference", "status": "resolved"}
    )
    return _after_alerts(client, incident, [data])[0]


def alerts_manage(
    *, actor: Actor, incident: Incident, alert_ids: Sequence[str], resolve: bool = False, target: Incident | None = None
) -> list[Alert | None]:
    """Manage Incident Alerts (PUT /incidents/{id}/alerts): resolve several, or move them to another incident."""
    if not alert_ids:
        raise ActionRefused("Select at least one alert.")
    if not resolve and target is None:
        raise ActionRefused("Choose to resolve the alerts or an incident to move them to.")
    if target is not None and target.pk == incident.pk:
        raise ActionRefused("The alerts are already on this incident.")
    client = acting_client(actor=actor)
    results: list[dict[str, Any]] = []
    for start in range(0, len(alert_ids), BULK_LIMIT):
        items = []
        for alert_id in alert_ids[start : start + BULK_LIMIT]:
            item: dict[str, Any] = {"id": alert_id, "type": "alert_reference"}
            if resolve:
                item["status"] = "resolved"
            if target is not None:
                item["incident"] = {"id": target.pd_id, "type": "incident_reference"}
            items.append(item)
        body = client.put(f"/incidents/{incident.pd_id}/alerts", {"alerts": items})
        results.extend(body.get("alerts", []) if isinstance(body, dict) else [])
    return _after_alerts(client, incident, results, target=target)


def _after_alerts(
    client: PagerDutyClient, incident: Incident, alerts: list[dict[str, Any]], target: Incident | None = None
) -> list[Alert | None]:
    # Alert changes can resolve or re-count the incidents: take PagerDuty's view of both, read before the
    # transaction (never hold one open across an HTTP call).
    touched = [incident] + ([target] if target is not None else [])
    fresh: list[tuple[dict[str, Any] | None, list[dict[str, Any]]]] = []
    for item in touched:
        try:
            data: dict[str, Any] | None = client.get_entity(f"/incidents/{item.pd_id}")
        except PagerDutyError as exc:
            logger.info("could not refresh %s after an alert change: %s", item.pd_id, exc)
            data = None
        fresh.append((data, _newest_log(client, item.pd_id)))
    with transaction.atomic():
        stored = [mirror.upsert_alert(a, changed_at=timezone.now()) for a in alerts]
        for item, (data, entries) in zip(touched, fresh, strict=True):
            if data is not None:
                _apply_incident(data)
            for entry in entries:
                mirror.upsert_log_entry(entry, incident=item)
        _publish([i.pd_id for i in touched])
    return stored


# -- many incidents ---------------------------------------------------------------------------------------------------

BULK_STATUS = {"acknowledge": "acknowledged", "resolve": "resolved"}
ALREADY_RESOLVED = "already resolved"
NOT_ACKNOWLEDGED = "not acknowledged"
# Snooze has no bulk endpoint: one request each, so a bulk snooze stays well inside a minute's rate limit.
BULK_SNOOZE_LIMIT = 100
# An id the person cannot see: the same words as for an id that does not exist.
NOT_FOUND = "not found"
# Actions that only make sense on an open incident: PagerDuty reopens a resolved incident that is acknowledged,
# refuses to reassign or escalate one, and resolving it again changes nothing.
OPEN_ONLY_ACTIONS = frozenset({"acknowledge", "resolve", "reassign", "escalate"})
# Actions whose PUT would reopen a resolved incident. The mirror can lag a resolve (a webhook in flight), and a
# reopened incident pages people, so PagerDuty is asked which of the selection are still open before sending.
REOPENING_ACTIONS = frozenset({"acknowledge"})
# Refusals about the incidents themselves (one resolved, one unknown): splitting the chunk finds the culprits.
# Any other refusal (token, scope, rate limit, outage) would refuse every part as well, so it is not split.
PER_INCIDENT_REFUSALS = (InvalidInput, NotFound, Conflict)
# Extra requests one chunk may spend finding its refused incidents (about two culprits among 250).
BISECT_BUDGET = 32


@dataclass
class BulkResult:
    """Per-incident outcome of a bulk action, summarised in words ("12 done, 2 already resolved")."""

    action: str
    done: list[str] = field(default_factory=list)
    unchanged: dict[str, str] = field(default_factory=dict)  # id -> reason ("already resolved")
    failed: dict[str, str] = field(default_factory=dict)  # id -> PagerDuty's message
    labels: dict[str, str] = field(default_factory=dict)  # id -> "#12" for the incidents the mirror knows
    requests: int = 0

    def summary(self) -> str:
        parts = []
        if self.done:
            parts.append(f"{len(self.done)} done")
        for reason, count in Counter(self.unchanged.values()).items():
            parts.append(f"{count} {reason}")
        for message, count in Counter(self.failed.values()).items():
            parts.append(f"{count} refused by PagerDuty: {message}")
        return ", ".join(parts) or "Nothing to do"

    @property
    def refused(self) -> list[tuple[str, str, str]]:
        """(id, "#number" or id, PagerDuty's message) of every refused incident."""
        return [(pd_id, self.labels.get(pd_id, pd_id), message) for pd_id, message in self.failed.items()]

    @property
    def ok(self) -> bool:
        return not self.failed


def _bulk_change(action: str, params: dict[str, Any]) -> dict[str, Any]:
    if action == "resolve" and (params.get("resolution") or "").strip():
        # PagerDuty adds the resolution to each incident's resolve log entry as a note.
        return {"status": "resolved", "resolution": params["resolution"].strip()}
    if action in BULK_STATUS:
        return {"status": BULK_STATUS[action]}
    if action == "snooze":
        return {}  # no bulk endpoint: _bulk_snooze sends one request per incident
    if action == "reassign":
        if params.get("users"):
            return {"assignments": [{"assignee": _user_ref(u)} for u in params["users"]]}
        if params.get("escalation_policy"):
            return {"escalation_policy": _policy_ref(params["escalation_policy"])}
        raise ActionRefused("Choose users or an escalation policy.")
    if action == "escalate":
        return {"escalation_level": int(params["level"])}
    if action == "priority":
        return {"priority": {"id": params["priority"], "type": "priority_reference"}}
    if action == "urgency":
        return {"urgency": params["urgency"]}
    raise ActionRefused(f"Unknown bulk action: {action}")


def _open_in_pagerduty(client: PagerDutyClient, ids: Sequence[str]) -> set[str] | None:
    """Which of these incidents PagerDuty itself lists as open; None when it cannot say (the mirror decides)."""
    try:
        listed = client.list_all(
            "/incidents", {"statuses": ["triggered", "acknowledged"], "date_range": "all"}, concurrency=4
        )
    except PagerDutyError as exc:
        logger.info("could not list open incidents before a bulk change: %s", exc)
        return None
    wanted = set(ids)
    return {str(i.get("id")) for i in listed if i.get("id") in wanted}


def _bulk_put(
    client: PagerDutyClient, items: list[dict[str, Any]], result: BulkResult, splits: list[int]
) -> list[tuple[str, dict[str, Any] | None]]:
    """PUT /incidents for these items; a refusal about some incident splits the items in two until it is found.

    Returns (id, PagerDuty's incident or None) for every accepted item; refused ones land in `result.failed`
    with PagerDuty's own message.
    """
    result.requests += 1
    try:
        updated = client.manage_incidents(items)
    except PER_INCIDENT_REFUSALS as exc:
        if len(items) == 1 or splits[0] <= 0:
            for item in items:
                result.failed[item["id"]] = str(exc)
            return []
        # Bisecting costs about 2·log2(n) requests per refused incident instead of one request per incident. The
        # budget bounds a refusal of the change itself (say an escalation level the policy lacks), which every
        # half repeats: without it, 250 incidents would cost 499 requests.
        splits[0] -= 2
        middle = len(items) // 2
        return _bulk_put(client, items[:middle], result, splits) + _bulk_put(client, items[middle:], result, splits)
    except PagerDutyError as exc:
        for item in items:
            result.failed[item["id"]] = str(exc)
        return []
    by_id = {str(data.get("id")): data for data in updated if isinstance(data, dict)}
    with transaction.atomic():
        for data in by_id.values():
            _apply_incident(data)
    return [(item["id"], by_id.get(item["id"])) for item in items]


def incidents_bulk(*, actor: Actor, incident_ids: Sequence[str], action: str, params: dict[str, Any]) -> BulkResult:
    """Manage Incidents (PUT /incidents) in chunks of 250, reporting every incident's outcome.

    Resolved incidents are skipped for actions that need an open one ("already resolved"): by the mirror, by
    PagerDuty's list of open incidents for an action that would reopen, and by PagerDuty's answer. A refused
    chunk is split until the refused incidents are found, so the others still go through.
    """
    ids = list(dict.fromkeys(incident_ids))
    if not ids:
        raise ActionRefused("Select at least one incident.")
    change = _bulk_change(action, params)
    target = change.get("status")
    result = BulkResult(action=action)
    rows = incidents_visible_to(viewer=actor).filter(pd_id__in=ids).values_list("pd_id", "status", "number")
    mirrored = {pd_id: (status, number) for pd_id, status, number in rows}
    result.labels = {pd_id: f"#{number}" for pd_id, (_, number) in mirrored.items()}
    if not scope_of(actor).unrestricted:
        # A scoped person acts only on incidents they can see, whatever ids the form was sent.
        for pd_id in [pd_id for pd_id in ids if pd_id not in mirrored]:
            result.unchanged[pd_id] = NOT_FOUND
        ids = [pd_id for pd_id in ids if pd_id in mirrored]
    client = acting_client(actor=actor)
    if action == "snooze":
        _bulk_snooze(client, ids, mirrored, int(params["duration"]), result)
        return result
    send = ids
    if action in OPEN_ONLY_ACTIONS:
        send = [pd_id for pd_id in ids if mirrored.get(pd_id, ("", 0))[0] != Incident.Status.RESOLVED]
        if action in REOPENING_ACTIONS and send:
            still_open = _open_in_pagerduty(client, send)
            if still_open is not None:
                send = [pd_id for pd_id in send if pd_id in still_open]
        for pd_id in ids:
            if pd_id not in send:
                result.unchanged[pd_id] = ALREADY_RESOLVED
    for start in range(0, len(send), BULK_LIMIT):
        chunk = [{"id": pd_id, **change} for pd_id in send[start : start + BULK_LIMIT]]
        accepted = _bulk_put(client, chunk, result, [BISECT_BUDGET])
        reasons = {result.failed.get(item["id"]) for item in chunk}
        if not accepted and len(chunk) > 1 and len(reasons) == 1 and None not in reasons:
            # Every incident refused for the same reason: the change itself is wrong, and PagerDuty would refuse
            # it for the rest too, so they are reported with that refusal rather than sent.
            reason = reasons.pop()
            for pd_id in send[start + BULK_LIMIT :]:
                result.failed[pd_id] = reason
            break
        for pd_id, data in accepted:
            status = data.get("status") if data else None
            if target != Incident.Status.RESOLVED and status == Incident.Status.RESOLVED:
                # PagerDuty's answer says it is resolved: whatever the mirror thought, nothing was changed.
                result.unchanged[pd_id] = ALREADY_RESOLVED
            elif target and mirrored.get(pd_id, ("", 0))[0] == target:
                result.unchanged[pd_id] = f"already {target}"
            else:
                result.done.append(pd_id)
    _publish(send)
    return result


def _bulk_snooze(
    client: PagerDutyClient, ids: list[str], mirrored: dict[str, tuple[str, int]], seconds: int, result: BulkResult
) -> None:
    """Snooze Incident for each acknowledged one (PagerDuty has no bulk snooze; only acknowledged ones snooze)."""
    if len(ids) > BULK_SNOOZE_LIMIT:
        raise ActionRefused(
            f"Snooze at most {BULK_SNOOZE_LIMIT} incidents at once: PagerDuty takes one request per incident."
        )
    sent = []
    for pd_id in ids:
        if mirrored.get(pd_id, ("", 0))[0] != Incident.Status.ACKNOWLEDGED:
            result.unchanged[pd_id] = NOT_ACKNOWLEDGED
            continue
        result.requests += 1
        try:
            data = client.snooze_incident(pd_id, seconds)
        except PagerDutyError as exc:
            result.failed[pd_id] = str(exc)
            continue
        with transaction.atomic():
            _apply_incident(data)
        result.done.append(pd_id)
        sent.append(pd_id)
    _publish(sent)


# -- creating things -----------------------------------------------------------------------------------------------


def incident_create(
    *,
    actor: Actor,
    title: str,
    service_id: str,
    urgency: str = "",
    priority_id: str = "",
    details: str = "",
    assignee_ids: Sequence[str] = (),
    escalation_policy_id: str = "",
    incident_key: str = "",
) -> Incident:
    """Create Incident (POST /incidents) and mirror it."""
    entity: dict[str, Any] = {
        "type": "incident",
        "title": title,
        "service": {"id": service_id, "type": "service_reference"},
    }
    if urgency:
        entity["urgency"] = urgency
    if priority_id:
        entity["priority"] = {"id": priority_id, "type": "priority_reference"}
    if details:
        entity["body"] = {"type": "incident_body", "details": details}
    if assignee_ids:
        entity["assignments"] = [{"assignee": _user_ref(u)} for u in assignee_ids]
    elif escalation_policy_id:
        entity["escalation_policy"] = _policy_ref(escalation_policy_id)
    if incident_key:
        entity["incident_key"] = incident_key
    client = acting_client(actor=actor)
    data = client.create("/incidents", entity)
    return _finish(client, data)


def event_send(*, actor: Actor, data: dict[str, Any], service: Service | None = None) -> dict[str, Any]:
    """Events API v2 Send Event (trigger, acknowledge or resolve); returns PagerDuty's answer (dedup_key…).

    With `service`, the routing key is its Events API v2 integration's, read from PagerDuty as this person;
    otherwise `data["routing_key"]` (the advanced option). Refused (ActionRefused) for a service without one.
    """

    routing_key = data.get("routing_key") or ""
    if service is not None:
        try:
            routing_key = service_events_routing_key(actor=actor, service=service, client=acting_client(actor=actor))
        except NoEventsIntegration as exc:
            raise ActionRefused(str(exc)) from None
    payload: dict[str, Any] | None = None
    if data["event_action"] == "trigger":
        payload = {"summary": data["summary"], "source": data["source"], "severity": data["severity"]}
        for key, name in (("component", "component"), ("group", "group"), ("event_class", "class")):
            if data.get(key):
                payload[name] = data[key]
        if data.get("custom_details"):
            payload["custom_details"] = data["custom_details"]
    return events_client(user=actor).enqueue(
        routing_key=routing_key,
        event_action=data["event_action"],
        dedup_key=data.get("dedup_key") or None,
        payload=payload,
        links=data.get("links") or None,
    )


def change_event_send(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Send Change Event (Events API v2 /v2/change/enqueue)."""

    return events_client(user=actor).send_change_event(
        routing_key=data["routing_key"],
        summary=data["summary"],
        source=data.get("source") or None,
        timestamp=data.get("timestamp") or None,
        custom_details=data.get("custom_details") or None,
        links=data.get("links") or None,
    )


def change_event_update(*, actor: Actor, event: ChangeEvent, data: dict[str, Any]) -> ChangeEvent | None:
    """Update Change Event (PUT /change_events/{id}), then mirror PagerDuty's answer.

    Only `summary` and `custom_details` are writable (the spec marks everything else readOnly). Custom details
    are always sent, so emptying them clears them in PagerDuty ({}).
    """
    changes: dict[str, Any] = {"summary": data["summary"], "custom_details": data.get("custom_details") or {}}
    client = acting_client(actor=actor)
    body = client.update(f"/change_events/{event.pd_id}", changes, wrap="change_event")
    with transaction.atomic():
        stored = mirror.upsert_change_event(body, changed_at=timezone.now())
        transaction.on_commit(lambda: live.publish(topic="change_event", ids=[event.pd_id]))
    return stored


# -- live reads that also refresh the mirror ------------------------------------------------------------------------


def priorities_fetch(*, actor: Actor) -> list[Any]:
    """List Priorities with the person's identity and refresh the mirror every priority picker reads."""
    client = acting_client(actor=actor)
    items = client.list_all("/priorities", concurrency=2)
    with transaction.atomic():
        return mirror.upsert_priorities(items)


CHANGE_EVENTS_PER_PAGE = 100  # PagerDuty's largest page.
CHANGE_EVENTS_MAX_PAGE = 100  # PagerDuty refuses offset + limit > 10,000.


@dataclass
class ChangeEventPage:
    """One page of List Change Events as PagerDuty answered it, with what the pager needs."""

    events: list[ChangeEvent]
    page: int
    per_page: int
    total: int | None
    more: bool

    @property
    def start(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.events else 0

    @property
    def end(self) -> int:
        return (self.page - 1) * self.per_page + len(self.events)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.more and self.page < CHANGE_EVENTS_MAX_PAGE

    @property
    def beyond_reach(self) -> bool:
        """PagerDuty has more than its offset limit lets anyone page to: only narrower dates reach the rest."""
        return self.more and self.page >= CHANGE_EVENTS_MAX_PAGE


def change_events_fetch(*, actor: Actor, filters: dict[str, Any]) -> ChangeEventPage:
    """List Change Events (team, integration, since/until filters), one page of 100 at `filters["page"]`, mirrored."""
    params: dict[str, Any] = {}
    if filters.get("team"):
        params["team_ids"] = list(filters["team"])
    if filters.get("integration"):
        params["integration_ids"] = [filters["integration"]]
    for key in ("since", "until"):
        if filters.get(key):
            params[key] = format_time(filters[key])
    page = min(max(int(filters.get("page") or 1), 1), CHANGE_EVENTS_MAX_PAGE)
    offset = (page - 1) * CHANGE_EVENTS_PER_PAGE
    client = acting_client(actor=actor)
    body = client.get("/change_events", {**params, "limit": CHANGE_EVENTS_PER_PAGE, "offset": offset, "total": True})
    body = body if isinstance(body, dict) else {}
    items = body.get("change_events") or []
    with transaction.atomic():
        stored = [e for e in (mirror.upsert_change_event(item) for item in items) if e is not None]
    order = {e.pk: n for n, e in enumerate(stored)}
    visible = change_events_visible_to(viewer=actor)
    events = sorted(visible.filter(pk__in=order).prefetch_related("services"), key=lambda e: order[e.pk])
    total = body.get("total")
    more = bool(body.get("more")) if "more" in body else total is not None and offset + len(items) < int(total)
    return ChangeEventPage(
        events=events,
        page=page,
        per_page=CHANGE_EVENTS_PER_PAGE,
        total=int(total) if total is not None else None,
        more=more,
    )


def change_event_fetch(*, actor: Actor, pd_id: str) -> ChangeEvent | None:
    """Get Change Event and mirror it."""
    client = acting_client(actor=actor)
    data = client.get_entity(f"/change_events/{pd_id}")
    with transaction.atomic():
        return mirror.upsert_change_event(data)


def notifications_fetch(*, actor: Actor, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """List Notifications between since and until (PagerDuty: at most 3 months), newest first; not mirrored."""
    params: dict[str, Any] = {
        "since": format_time(filters["since"]),
        "until": format_time(filters["until"]),
    }
    if filters.get("filter"):
        params["filter"] = filters["filter"]
    if filters.get("time_zone"):
        params["time_zone"] = filters["time_zone"]
    client = acting_client(actor=actor)
    items = client.list_all("/notifications", params, concurrency=2)
    for item in items:
        item["started_at_dt"] = mirror.parse_time(item.get("started_at"))
    # With an API key PagerDuty answers for the whole account: keep what this person may see.
    return notifications_visible_to(viewer=actor, items=items)


# -- saved views (the portal's own data: nothing goes to PagerDuty) -------------------------------------------------


def saved_view_save(*, owner: Any, name: str, query: str) -> SavedView:
    """Save the list's filters (only them: see forms.filter_query) under `name`; the same name replaces them."""
    view, _ = SavedView.objects.update_or_create(
        owner=owner, name=name.strip()[:80], defaults={"query": filter_query(query)}
    )
    return view


def saved_view_delete(*, owner: Any, view_id: int) -> bool:
    """Delete one of the owner's views; another person's (or a missing) view is left alone: False."""
    deleted, _ = SavedView.objects.filter(owner=owner, pk=view_id).delete()
    return deleted > 0
