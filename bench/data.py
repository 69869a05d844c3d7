"""Bulk-created mirror data for the benchmarks: 10,000 incidents with services, people, alerts, notes and log."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

N_INCIDENTS = 10_000
N_SERVICES = 20
SMALL_SERVICE = "QSVC000"  # exactly 10 incidents: the "10 rows" side of the constant-queries check
SMALL_COUNT = 10
ID_PREFIX = "Q"  # bench incidents: Q000001...; a PagerDuty id is 7 uppercase characters
DETAILED = 300  # the newest incidents get alerts, notes and log entries (the incident page reads them)
WORDS = [
    *("database", "latency", "disk", "full", "cpu", "high", "api", "errors"),
    *("checkout", "payment", "queue", "backlog", "cert", "expiry", "dns"),
]


def incident_id(i: int) -> str:
    return f"{ID_PREFIX}{i:06d}"


def _raw_incident(pd_id: str, number: int, title: str, status: str, created: datetime, service: str) -> dict:
    """A realistic REST v2 incident body: the mirror keeps it in `raw`, so row size matches production."""
    stamp = created.isoformat().replace("+00:00", "Z")
    return {
        "id": pd_id,
        "type": "incident",
        "summary": f"[#{number}] {title}",
        "self": f"https://api.pagerduty.com/incidents/{pd_id}",
        "html_url": f"https://bench.pagerduty.com/incidents/{pd_id}",
        "incident_number": number,
        "title": title,
        "created_at": stamp,
        "updated_at": stamp,
        "status": status,
        "incident_key": f"bench-{number}",
        "service": {"id": service, "type": "service_reference", "summary": service},
        "assignments": [],
        "acknowledgements": [],
        "last_status_change_at": stamp,
        "urgency": "high",
        "escalation_policy": {"id": "QEP0001", "type": "escalation_policy_reference", "summary": "Bench EP"},
        "teams": [],
        "alert_counts": {"all": 1, "triggered": 0, "resolved": 1},
        "body": {"type": "incident_body", "details": "x" * 200},
    }


def ensure_incidents(n: int = N_INCIDENTS) -> dict:
    """Create the bench dataset once (idempotent): returns facts the benchmarks need (ids, services)."""
    from django.db import transaction

    from accounts.models import PagerDutyUser, Team
    from incidents.models import Alert, Incident, LogEntry, Note, Priority
    from services.models import EscalationPolicy, Service

    if Incident.objects.filter(pd_id__startswith=ID_PREFIX).count() >= n:
        return facts()
    rng = random.Random(8)
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction.atomic():
        teams = Team.objects.bulk_create([Team(pd_id=f"QTEAM{i:02d}", name=f"Team {i}") for i in range(3)])
        people = PagerDutyUser.objects.bulk_create(
            [
                PagerDutyUser(
                    pd_id=f"QUSER{i:02d}", name=f"Responder {i}", email=f"responder{i}@example.com", role="user"
                )
                for i in range(12)
            ]
        )
        policy = EscalationPolicy.objects.create(pd_id="QEP0001", name="Bench EP")
        services = Service.objects.bulk_create(
            [
                Service(pd_id=f"QSVC{i:03d}", name=f"service-{i:02d}", status="active", escalation_policy=policy)
                for i in range(N_SERVICES)
            ]
        )
        priorities = Priority.objects.bulk_create(
            [Priority(pd_id=f"QPRI00{i}", name=f"P{i}", order=10 - i) for i in range(1, 5)]
        )
        incidents = []
        for i in range(1, n + 1):
            # Service 0 holds exactly SMALL_COUNT incidents; the others share the rest.
            service = services[0] if i <= SMALL_COUNT else services[1 + (i % (N_SERVICES - 1))]
            roll = rng.random()
            status = "triggered" if roll < 0.1 else "acknowledged" if roll < 0.2 else "resolved"
            created = now - timedelta(minutes=(n - i) * 13)
            title = f"{rng.choice(WORDS)} {rng.choice(WORDS)} on host-{rng.randrange(400)} #{i}"
            pd_id = incident_id(i)
            incidents.append(
                Incident(
                    pd_id=pd_id,
                    number=i,
                    title=title,
                    status=status,
                    urgency="high" if rng.random() < 0.7 else "low",
                    priority=priorities[rng.randrange(4)] if rng.random() < 0.5 else None,
                    service=service,
                    escalation_policy=policy,
                    created_at=created,
                    last_status_change_at=created,
                    resolved_at=created + timedelta(minutes=20) if status == "resolved" else None,
                    alert_count=1,
                    html_url=f"https://bench.pagerduty.com/incidents/{pd_id}",
                    search_text=f"{title.lower()} {i} {pd_id.lower()}",
                    raw=_raw_incident(pd_id, i, title, status, created, service.pd_id),
                    changed_at=created,
                )
            )
        Incident.objects.bulk_create(incidents, batch_size=1000)
        rows = list(Incident.objects.filter(pd_id__startswith=ID_PREFIX).values_list("id", "number", "created_at"))
        assign = Incident.assignees.through
        team_link = Incident.teams.through
        assign.objects.bulk_create(
            [assign(incident_id=pk, pagerdutyuser_id=people[num % len(people)].pk) for pk, num, _ in rows],
            batch_size=2000,
        )
        team_link.objects.bulk_create(
            [team_link(incident_id=pk, team_id=teams[num % len(teams)].pk) for pk, num, _ in rows], batch_size=2000
        )
        Alert.objects.bulk_create(
            [
                Alert(
                    pd_id=f"QA{num:05d}",
                    incident_id=pk,
                    status="resolved",
                    severity="error",
                    summary=f"alert for incident {num}",
                    created_at=created,
                )
                for pk, num, created in rows
            ],
            batch_size=2000,
        )
        newest = sorted(rows, key=lambda r: r[1], reverse=True)[:DETAILED]
        Note.objects.bulk_create(
            [
                Note(pd_id=f"QN{num:05d}{k}", incident_id=pk, content=f"note {k} on {num}", created_at=created)
                for pk, num, created in newest
                for k in range(2)
            ]
        )
        LogEntry.objects.bulk_create(
            [
                LogEntry(
                    pd_id=f"QL{num:05d}{k}",
                    incident_id=pk,
                    type=["trigger_log_entry", "notify_log_entry", "acknowledge_log_entry"][k % 3],
                    summary=f"log entry {k} of {num}",
                    created_at=created + timedelta(seconds=k),
                )
                for pk, num, created in newest
                for k in range(6)
            ]
        )
    return facts()


def facts() -> dict:
    from incidents.models import Incident

    newest_open = list(
        Incident.objects.filter(pd_id__startswith=ID_PREFIX, status__in=["triggered", "acknowledged"])
        .order_by("-created_at")
        .values_list("pd_id", flat=True)[:60]
    )
    return {
        "incidents": Incident.objects.filter(pd_id__startswith=ID_PREFIX).count(),
        "newest_open": newest_open,
        "small_service": SMALL_SERVICE,
        "large_service": "QSVC001",
    }
