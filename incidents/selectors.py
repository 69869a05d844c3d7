"""Reads of the incident console, all from the mirror (never from PagerDuty), with a fixed number of queries."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import Actor, PagerDutyUser
from accounts.roles import can_act
from accounts.selectors import pd_user_of
from accounts.visibility import Viewer, people_visible_to, scope_of, teams_visible_to
from incidents.forms import OPEN_STATUSES, SORTS
from incidents.models import (
    Alert,
    ChangeEvent,
    Incident,
    LogEntry,
    Note,
    Priority,
    Responder,
    SavedView,
    StatusUpdate,
    StatusUpdateTemplate,
)
from pdportal import reference_cache
from services.models import EscalationPolicy, Service
from services.oncall_selectors import Level, PolicyOnCall, policy_levels
from services.selectors import (
    escalation_policies_visible_to,
    policy_ids_of_teams,
    service_ids_of_teams,
    services_visible_to,
)

DEFAULT_PER_PAGE = 50
OPEN = frozenset(OPEN_STATUSES)
# "#185" in the search box opens incident 185; a bare "185" stays a text search (titles carry numbers too).
JUMP = re.compile(r"#\s*(\d{1,9})")
CHANGE_EVENT_WINDOW = timedelta(hours=6)


# -- visibility: what each person may see (accounts.visibility has PagerDuty's rules) -------------------------------


def incidents_touching(team_pks: Collection[int]) -> Q:
    """Incidents associated with one of these teams: the incident's own teams, its service's (directly or through
    the service's escalation policy) or its escalation policy's."""
    team_pks = list(team_pks)
    # Uncorrelated subqueries (evaluated once, as hashed sets): a correlated EXISTS per incident costs 10,000 probes.
    return (
        Q(pk__in=Incident.teams.through.objects.filter(team_id__in=team_pks).values("incident_id"))
        | Q(service_id__in=service_ids_of_teams(team_pks))
        | Q(escalation_policy_id__in=policy_ids_of_teams(team_pks))
    )


def incident_audience(ids: list[str]) -> dict[str, dict[str, list]]:
    """Who may hear of each of these incidents on the live bus (pdportal.live.set_audience): the teams it is tied to
    (its own, its service's and their escalation policies', as incidents_touching reads them) and its assignees."""
    rows = list(Incident.objects.filter(pd_id__in=ids).values_list("pk", "pd_id", "service_id", "escalation_policy_id"))
    service_ids = {service for _, _, service, _ in rows if service}
    services = dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "escalation_policy_id"))
    service_pd_ids = dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "pd_id"))
    policy_ids = {policy for _, _, _, policy in rows if policy} | {p for p in services.values() if p}
    policy_teams: dict[int, set[int]] = {}
    for policy, team in EscalationPolicy.teams.through.objects.filter(escalationpolicy_id__in=policy_ids).values_list(
        "escalationpolicy_id", "team_id"
    ):
        policy_teams.setdefault(policy, set()).add(team)
    service_teams: dict[int, set[int]] = {}
    for service, team in Service.teams.through.objects.filter(service_id__in=service_ids).values_list(
        "service_id", "team_id"
    ):
        service_teams.setdefault(service, set()).add(team)
    pks = [pk for pk, *_ in rows]
    own_teams: dict[int, set[int]] = {}
    for incident, team in Incident.teams.through.objects.filter(incident_id__in=pks).values_list(
        "incident_id", "team_id"
    ):
        own_teams.setdefault(incident, set()).add(team)
    people: dict[int, list[tuple[int, str]]] = {}
    for incident, person, pd_id in Incident.assignees.through.objects.filter(incident_id__in=pks).values_list(
        "incident_id", "pagerdutyuser_id", "pagerdutyuser__pd_id"
    ):
        people.setdefault(incident, []).append((person, pd_id))
    out: dict[str, dict[str, list]] = {}
    for pk, pd_id, service, policy in rows:
        teams = set(own_teams.get(pk, ()))
        if service:
            teams |= service_teams.get(service, set()) | policy_teams.get(services.get(service) or 0, set())
        if policy:
            teams |= policy_teams.get(policy, set())
        assigned = people.get(pk, [])
        out[pd_id] = {
            "t": sorted(teams),
            "p": sorted(person for person, _ in assigned),
            "a": sorted(person_id for _, person_id in assigned),
            "s": [service_pd_ids[service]] if service in service_pd_ids else [],
        }
    return out


def incidents_visible_to(*, viewer: Viewer) -> QuerySet[Incident]:
    """Every incident this person may see. Each read of incidents for display starts here.

    Besides their teams' rule (accounts.visibility), a person sees the incidents assigned to them: PagerDuty pages
    them about it, and they must be able to respond. (A Limited Stakeholder is never assigned one.)
    """
    scope = scope_of(viewer)
    condition = scope.condition(touching=incidents_touching)
    if condition is None:
        return Incident.objects.all()
    if scope.pd_user_pk is not None and not scope.nothing:
        assigned = Incident.assignees.through.objects.filter(pagerdutyuser_id=scope.pd_user_pk)
        condition |= Q(pk__in=assigned.values("incident_id"))
    return Incident.objects.filter(condition)


def change_events_touching(team_pks: Collection[int]) -> Q:
    through = ChangeEvent.services.through
    return Q(pk__in=through.objects.filter(service_id__in=service_ids_of_teams(team_pks)).values("changeevent_id"))


def change_events_visible_to(*, viewer: Viewer) -> QuerySet[ChangeEvent]:
    """Change events on services this person may see (one on no service: everyone but Restricted Access)."""
    return scope_of(viewer).restrict(ChangeEvent.objects.all(), touching=change_events_touching)


def notifications_visible_to(*, viewer: Viewer, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PagerDuty's notifications (not mirrored) to people this person may see."""
    scope = scope_of(viewer)
    if scope.unrestricted:
        return items
    people = set(people_visible_to(viewer=scope).values_list("pd_id", flat=True))
    return [item for item in items if str((item.get("user") or {}).get("id") or "") in people]


def filter_options(*, viewer: Viewer) -> dict[str, list[tuple[str, str]]]:
    """Choices for the pickers, as this person may see them: small queries, independent of the number of incidents,
    and kept per process and scope until a reference table changes (pdportal.reference_cache). Do not mutate."""
    scope = scope_of(viewer)

    def compute() -> dict[str, list[tuple[str, str]]]:
        return {
            "priorities": list(Priority.objects.order_by("-order", "name").values_list("pd_id", "name")),
            "services": list(services_visible_to(viewer=scope).order_by("name").values_list("pd_id", "name")),
            "teams": list(teams_visible_to(viewer=scope).order_by("name").values_list("pd_id", "name")),
            "escalation_policies": list(
                escalation_policies_visible_to(viewer=scope).order_by("name").values_list("pd_id", "name")
            ),
        }

    return reference_cache.remembered("filter_options", scope, compute)


def user_options(*, viewer: Viewer) -> list[tuple[str, str]]:
    """The people this person may pick (reassign, add responders), A to Z; kept like filter_options."""
    scope = scope_of(viewer)
    return reference_cache.remembered(
        "user_options",
        scope,
        lambda: list(people_visible_to(viewer=scope).order_by("name").values_list("pd_id", "name")),
    )


def template_options() -> list[tuple[str, str]]:
    return list(StatusUpdateTemplate.objects.order_by("name").values_list("pd_id", "name"))


def _team_filter(team_ids: list[str]) -> Exists:
    through = Incident.teams.through
    return Exists(through.objects.filter(incident_id=OuterRef("pk"), team__pd_id__in=team_ids))


def filtered_incidents(*, filters: dict[str, Any], user: Actor) -> QuerySet[Incident]:
    """The incidents matching the list's filters (cleaned IncidentFilterForm data) that `user` may see, unsorted."""
    qs = incidents_visible_to(viewer=user)
    statuses = set(filters.get("status") or ())
    if statuses == OPEN:
        # "Open" said as "not resolved": the list's default. With `status IN (two values)` SQLite reads both status
        # ranges and sorts every open incident before taking a page; this lets it walk the created_at index newest
        # first and stop after the page (1/10 of the CPU at 2,000 open incidents).
        qs = qs.exclude(status=Incident.Status.RESOLVED)
    elif statuses:
        qs = qs.filter(status__in=sorted(statuses))
    if filters.get("urgency"):
        qs = qs.filter(urgency__in=filters["urgency"])
    if filters.get("priority"):
        wanted = [p for p in filters["priority"] if p != "none"]
        condition = Q(priority__pd_id__in=wanted)
        if "none" in filters["priority"]:
            condition |= Q(priority__isnull=True)
        qs = qs.filter(condition)
    if filters.get("not_priority"):
        qs = qs.exclude(priority__pd_id__in=filters["not_priority"])
    if filters.get("service"):
        qs = qs.filter(service__pd_id__in=filters["service"])
    if filters.get("not_service"):
        qs = qs.exclude(service__pd_id__in=filters["not_service"])
    if filters.get("escalation_policy"):
        qs = qs.filter(escalation_policy__pd_id__in=filters["escalation_policy"])
    if filters.get("team"):
        qs = qs.filter(_team_filter(filters["team"]))
    if filters.get("not_team"):
        qs = qs.exclude(_team_filter(filters["not_team"]))
    assigned = filters.get("assigned")
    if assigned:
        me = pd_user_of(user)
        if me is None:
            return qs.none()
        through = Incident.assignees.through
        if assigned == "me":
            qs = qs.filter(Exists(through.objects.filter(incident_id=OuterRef("pk"), pagerdutyuser_id=me.pk)))
        elif assigned == "my_teams":
            # The incidents of the viewer's teams: on a service of theirs (or its policy's), or tagged with the team.
            team_pks = list(me.teams.values_list("pk", flat=True))
            qs = qs.filter(incidents_touching(team_pks)) if team_pks else qs.none()
    if filters.get("since"):
        qs = qs.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(created_at__lte=filters["until"])
    text = (filters.get("q") or "").strip().lower()
    number = incident_number_asked(text)
    if number is not None:
        qs = qs.filter(number=number)  # "#185" is incident 185, never #1850 or a title that mentions 185
    elif text:
        for word in text.split()[:8]:
            qs = qs.filter(search_text__contains=word.lstrip("#") if word.startswith("#") else word)
    return qs


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """How many open incidents the list's tab and filters match, per status (whatever statuses are ticked)."""

    triggered: int
    acknowledged: int

    def of(self, statuses: Collection[str] | None) -> int | None:
        """How many incidents have one of these statuses, when these counts know (None: resolved, or any status)."""
        if not statuses or not set(statuses) <= OPEN:
            return None
        return sum(getattr(self, status) for status in set(statuses))


def status_counts(*, filters: dict[str, Any], user: Actor) -> StatusCounts:
    """The live counts above the list: one grouped COUNT over the filtered set's open incidents (whatever statuses
    are ticked), which the (status, created_at) index answers without reading the resolved ones."""
    qs = filtered_incidents(filters={**filters, "status": None}, user=user).filter(status__in=sorted(OPEN))
    found = dict(qs.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))
    return StatusCounts(
        triggered=found.get(Incident.Status.TRIGGERED, 0), acknowledged=found.get(Incident.Status.ACKNOWLEDGED, 0)
    )


def incident_number_asked(text: str | None) -> int | None:
    """The number in a search that is exactly `#N` (a jump to incident N); None for any other search."""
    match = JUMP.fullmatch((text or "").strip())
    return int(match.group(1)) if match else None


def _ordering(sort: str | None) -> list[str]:
    sort = sort or "-created"
    desc = sort.startswith("-")
    column = SORTS.get(sort.lstrip("-"), "created_at")
    if sort.lstrip("-") == "age":
        desc = not desc  # the oldest incident has the greatest age
    prefix = "-" if desc else ""
    return [f"{prefix}{column}", f"{prefix}number" if column != "number" else f"{prefix}pk"]


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """What one list row shows: plain values, no model instance (the list renders up to 250 of them)."""

    pk: int
    pd_id: str
    number: int
    title: str
    status: str
    urgency: str
    priority_name: str | None
    service_name: str | None
    created_at: Any
    alert_count: int
    # The timers under the status (incidents.list_render._timer): read with the row, no query of their own.
    unacknowledge_at: Any = None
    snoozed_until: Any = None
    next_escalation_at: Any = None
    escalation_level: int | None = None
    assignee_names: tuple[str, ...] = ()


ROW_COLUMNS = (
    "pk",
    "pd_id",
    "number",
    "title",
    "status",
    "urgency",
    "priority__name",
    "service__name",
    "created_at",
    "alert_count",
    "unacknowledge_at",
    "snoozed_until",
    "next_escalation_at",
    "escalation_level",
)


@dataclass
class IncidentPage:
    rows: list[IncidentRow]
    count: int
    page: int
    per_page: int
    sort: str
    ids: list[str] = field(default_factory=list)

    @property
    def num_pages(self) -> int:
        return max((self.count + self.per_page - 1) // self.per_page, 1)

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def start(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.count else 0

    @property
    def end(self) -> int:
        return min(self.page * self.per_page, self.count)


def incident_page(*, filters: dict[str, Any], user: Actor, counts: StatusCounts | None = None) -> IncidentPage:
    """One page of the list: a COUNT of the filtered set, the shown columns of its rows, their assignee names.

    `counts` (status_counts of the same filters) spares the COUNT when the statuses asked for are open ones."""
    per_page = int(filters.get("per_page") or DEFAULT_PER_PAGE)
    sort = filters.get("sort") or "-created"
    qs = filtered_incidents(filters=filters, user=user)
    count = counts.of(filters.get("status")) if counts is not None else None
    if count is None:
        count = qs.count()
    if sort.lstrip("-") == "assignees":
        # Sorting by assignee needs a join; only pay for it when asked (first assignee's name, A to Z).
        qs = qs.annotate(first_assignee=Min("assignees__name"))
    num_pages = max((count + per_page - 1) // per_page, 1)
    page = min(int(filters.get("page") or 1), num_pages)
    offset = (page - 1) * per_page
    # Only the shown columns, as tuples (no model instances), and the assignee names in one query by incident.
    found = list(qs.order_by(*_ordering(sort)).values_list(*ROW_COLUMNS)[offset : offset + per_page])
    names = _assignee_names([r[0] for r in found])
    rows = [IncidentRow(*r, assignee_names=tuple(names.get(r[0], ()))) for r in found]
    return IncidentPage(rows=rows, count=count, page=page, per_page=per_page, sort=sort, ids=[r.pd_id for r in rows])


def _assignee_names(incident_pks: list[int]) -> dict[int, list[str]]:
    """The assignees' names of these incidents, A to Z, in one query.

    Plain SQL over the two tables: the ORM spends more CPU normalising the page's primary keys for `__in` than the
    database spends answering (a list request renders up to 250 rows, and a live storm re-fetches it often).
    """
    if not incident_pks:
        return {}
    through = Incident.assignees.through._meta
    incident, person = through.get_field("incident").column, through.get_field("pagerdutyuser").column
    people = Incident.assignees.field.related_model._meta
    name = people.get_field("name").column
    placeholders = ", ".join(["%s"] * len(incident_pks))
    # Table and column names come from the models; the values are parameters.
    sql = (
        f'SELECT a."{incident}", p."{name}" FROM "{through.db_table}" a '  # noqa: S608
        f'INNER JOIN "{people.db_table}" p ON p."{people.pk.column}" = a."{person}" '
        f'WHERE a."{incident}" IN ({placeholders}) ORDER BY p."{name}" ASC'
    )
    names: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(pk) for pk in incident_pks])
        for incident_id, name in cursor.fetchall():
            names.setdefault(incident_id, []).append(name)
    return names


def _sorted(qs: QuerySet[Incident], sort: str) -> QuerySet[Incident]:
    """The list's order, with its tie-breaker, so that export chunks never overlap or skip a row."""
    if sort.lstrip("-") == "assignees":
        qs = qs.annotate(first_assignee=Min("assignees__name"))
    return qs.order_by(*_ordering(sort))


EXPORT_CHUNK = 500


def incident_export_chunks(
    *, filters: dict[str, Any], user: Actor, chunk_size: int = EXPORT_CHUNK
) -> Iterator[list[IncidentRow]]:
    """Every incident of the list under these filters (all pages, the list's order) that `user` may see, a chunk
    at a time: two queries per chunk (the rows' columns, their assignees), never the whole set in memory.

    Each chunk is its own query (no cursor held open between chunks), so a slow download holds no database
    connection state; an incident created while it streams may shift a row between chunks, as paging would.
    """
    ordered = _sorted(filtered_incidents(filters=filters, user=user), filters.get("sort") or "-created")
    rows = ordered.values_list(*ROW_COLUMNS)
    offset = 0
    while True:
        found = list(rows[offset : offset + chunk_size])
        if not found:
            return
        names = _assignee_names([r[0] for r in found])
        yield [IncidentRow(*r, assignee_names=tuple(names.get(r[0], ()))) for r in found]
        if len(found) < chunk_size:
            return
        offset += chunk_size


def incident_ids_matching(*, filters: dict[str, Any], user: Actor, limit: int = 10_000) -> list[str]:
    """PagerDuty ids of every incident matching the filters that `user` may see (for "select all N matching")."""
    qs = filtered_incidents(filters=filters, user=user)
    return list(qs.order_by("-created_at").values_list("pd_id", flat=True)[:limit])


def get_incident(*, viewer: Viewer, pd_id: str) -> Incident:
    """One incident with everything its header needs; 404 when the mirror does not have it or the person may not
    see it (the same answer, so an id outside the person's scope does not even confirm that it exists)."""
    incident = (
        incidents_visible_to(viewer=viewer)
        .select_related("service", "priority", "escalation_policy")
        .prefetch_related("assignees", "teams")
        .filter(pd_id=pd_id)
        .first()
    )
    if incident is None:
        raise Http404("No incident with this id in the mirror")
    return incident


def find_incident(*, viewer: Viewer, ref: str) -> Incident | None:
    """An incident this person may see, by PagerDuty id or by number ("#12" or "12")."""
    ref = ref.strip().lstrip("#")
    visible = incidents_visible_to(viewer=viewer)
    if ref.isdigit():
        return visible.filter(number=int(ref)).first()
    return visible.filter(pd_id=ref).first()


def incident_alerts(*, incident: Incident) -> list[Alert]:
    return list(incident.alerts.select_related("service").order_by("-created_at"))


def incident_notes(*, incident: Incident) -> list[Note]:
    return list(incident.notes.select_related("user").order_by("-created_at"))


@dataclass
class TimelineItem:
    at: Any
    kind: str  # "log", "note", "status_update"
    summary: str
    who: str = ""
    detail: str = ""


def incident_timeline(*, incident: Incident) -> list[TimelineItem]:
    """Log entries, notes and status updates merged into one list, newest first."""
    items: list[TimelineItem] = []
    # A note is shown once: as the note (its text and author), not also as the annotate log entry that records it.
    entries = LogEntry.objects.filter(incident=incident).exclude(type="annotate_log_entry")
    for entry in entries.only("created_at", "type", "summary", "agent"):
        agent = entry.agent if isinstance(entry.agent, dict) else {}
        items.append(
            TimelineItem(
                at=entry.created_at,
                kind="log",
                summary=entry.summary or entry.type.replace("_log_entry", "").replace("_", " "),
                who=str(agent.get("summary") or ""),
                detail=entry.type,
            )
        )
    for note in Note.objects.filter(incident=incident).select_related("user"):
        items.append(
            TimelineItem(at=note.created_at, kind="note", summary=note.content, who=note.user.name if note.user else "")
        )
    for update in StatusUpdate.objects.filter(incident=incident).select_related("sender"):
        items.append(
            TimelineItem(
                at=update.created_at,
                kind="status_update",
                summary=update.message,
                who=update.sender.name if update.sender else "",
                detail=update.subject,
            )
        )
    items.sort(key=lambda i: i.at, reverse=True)
    return items


def merged_into(*, viewer: Viewer, incident: Incident) -> Incident | None:
    """The incident this one was merged into, from its merge log entry (channel type "merge"), if the mirror has it."""
    if incident.status != Incident.Status.RESOLVED:
        return None
    entry = (
        LogEntry.objects.filter(incident=incident, channel__type="merge")
        .only("summary", "channel")
        .order_by("-created_at")
    ).first()
    if entry is None:
        return None
    text = " ".join(str(part) for part in (entry.summary, (entry.channel or {}).get("summary")) if part)
    ids = [word.strip(".,#") for word in text.split() if word.strip(".,#").isalnum()]
    visible = incidents_visible_to(viewer=viewer)
    return visible.filter(pd_id__in=ids).exclude(pk=incident.pk).only("pd_id", "number", "title").first()


def related_change_events(
    *, viewer: Viewer, incident: Incident, window: timedelta = CHANGE_EVENT_WINDOW
) -> list[ChangeEvent]:
    """Change events on the incident's service from `window` before it started until it was resolved."""
    if incident.service_id is None:
        return []
    end = incident.resolved_at or incident.created_at + window
    return list(
        change_events_visible_to(viewer=viewer)
        .filter(services=incident.service_id, timestamp__gte=incident.created_at - window, timestamp__lte=end)
        .order_by("-timestamp")[:50]
    )


def escalation_levels(*, incident: Incident) -> list[int]:
    """The levels of the incident's escalation policy (from its raw rules), at least 1..3 when unknown."""
    policy = incident.escalation_policy
    rules = policy.raw.get("escalation_rules") if policy is not None and isinstance(policy.raw, dict) else None
    count = len(rules) if isinstance(rules, list) and rules else 3
    return list(range(1, count + 1))


def incident_for_event(*, viewer: Viewer, dedup_key: str, service_id: str = "") -> Incident | None:
    """The incident an Events API v2 event landed in, once the mirror has it: by its incident key (the dedup key
    of the event that opened it) or by an alert with that key (deduplicated into an open incident); newest first,
    and only one this person may see."""
    if not dedup_key:
        return None
    qs = incidents_visible_to(viewer=viewer).filter(Q(incident_key=dedup_key) | Q(alerts__alert_key=dedup_key))
    if service_id:
        qs = qs.filter(service__pd_id=service_id)
    return qs.order_by("-created_at", "-pk").only("pd_id", "number", "title", "status").first()


def saved_views_of(*, owner: Any) -> list[SavedView]:
    """The person's own saved views, by name (nobody else's, whoever asks)."""
    if not getattr(owner, "is_authenticated", False):
        return []
    return list(SavedView.objects.filter(owner=owner).order_by("name", "pk"))


@dataclass
class IncidentState:
    """What PagerDuty will do next to an incident, and who is on it: the incident page's state panel."""

    snoozed_until: datetime | None
    acknowledgement_lapses_at: datetime | None
    level: int | None
    level_count: int
    holders: list[PagerDutyUser]
    next_escalation_at: datetime | None
    next_level: int | None
    responders: list[Responder]
    policy_levels: list[Level]


def incident_state(*, incident: Incident) -> IncidentState:
    """Snooze, acknowledgement timeout, escalation level and its holders, the next escalation, responders, and the
    policy's levels (a couple of queries; the incident comes from get_incident, so the viewer may see it)."""
    policy = incident.escalation_policy
    levels = policy_levels(policy=policy) if policy is not None else []
    open_ = incident.status != Incident.Status.RESOLVED
    level = incident.escalation_level if open_ else None
    escalates_at = incident.escalates_at
    next_level = None
    if escalates_at is not None and policy is not None:
        current = level or 0
        next_level = current + 1 if current < len(levels) else (1 if policy.num_loops else None)
    return IncidentState(
        snoozed_until=incident.snooze_end,
        acknowledgement_lapses_at=incident.acknowledgement_lapses_at,
        level=level,
        level_count=len(levels),
        holders=list(incident.assignees.all()) if open_ else [],
        next_escalation_at=escalates_at,
        next_level=next_level,
        responders=list(incident.responders.select_related("user", "requester")),
        policy_levels=levels,
    )


def incident_policy(*, viewer: Viewer, incident: Incident) -> PolicyOnCall | None:
    """The incident's escalation policy with its levels, or None: a responder or admin who may see the incident may
    read its policy (they may act on the incident, which escalates along it); an observer only a policy the
    visibility rule shows them (accounts.visibility)."""
    policy = incident.escalation_policy
    if policy is None:
        return None
    if not can_act(viewer) and not escalation_policies_visible_to(viewer=viewer).filter(pk=policy.pk).exists():
        return None
    return PolicyOnCall(policy=policy, levels=policy_levels(policy=policy))
