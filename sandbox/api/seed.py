"""Deterministic seed of the sandbox account (same ids every time), with a bulk mode for 10,000+ incidents."""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3

from django.db import connection, transaction

from . import models as m
from .context import ID_ALPHABET, now
from .seed_schedules import flush_schedules, seed_schedules

DEFAULT_SIZE = 200
SEED = 20240611

USERS = [
    # (name, email, role, time zone, job title)
    ("Olivia Owner", "owner@example.com", "owner", "America/New_York", "Head of Operations"),
    ("Adam Admin", "admin@example.com", "admin", "Europe/London", "SRE Manager"),
    ("Rita Responder", "responder@example.com", "user", "Europe/Berlin", "Site Reliability Engineer"),
    ("Ravi Responder", "responder2@example.com", "user", "Asia/Kolkata", "Backend Engineer"),
    ("Omar Oncall", "oncall@example.com", "user", "America/Los_Angeles", "Platform Engineer"),
    ("Lena Limited", "limited@example.com", "limited_user", "Australia/Sydney", "Support Engineer"),
    ("Oscar Observer", "observer@example.com", "observer", "Europe/Paris", "Engineering Director"),
    ("Rhea Readonly", "readonly@example.com", "read_only_user", "Etc/UTC", "Auditor"),
]
TEAMS = [("Platform", "Core infrastructure"), ("Payments", "Checkout and billing"), ("Mobile", "iOS and Android")]
# policy name, team index, levels as lists of user indexes
POLICIES = [
    ("Platform On-Call", 0, [[2], [4], [1]]),
    ("Payments On-Call", 1, [[3], [1]]),
    ("Mobile On-Call", 2, [[4, 5], [0]]),
]
# service name, policy index, team index
SERVICES = [
    ("API Gateway", 0, 0),
    ("Database Cluster", 0, 0),
    ("Checkout", 1, 1),
    ("Billing Worker", 1, 1),
    ("iOS App", 2, 2),
    ("Android App", 2, 2),
]
# Visibility (PagerDuty's private teams and scoped base roles), seeded after everything else with fixed ids.
PRIVATE_TEAM = ("PTSECUR", "Security", "Secrets and access (a private team)")
PRIVATE_TEAM_MEMBERS = ["admin@example.com", "restricted@example.com", "oncall@example.com"]
PRIVATE_POLICY_ID, PRIVATE_RULE_ID = "PESECUR", "PRSECUR"
PRIVATE_SERVICE_ID, PRIVATE_INTEGRATION_ID = "PSSECUR", "PISECUR"
PRIVATE_INTEGRATION_KEY = "5ec0000000000000000000000000beef"
SCOPED_USERS = [
    # (id, name, email, role, time zone, job title)
    ("PURSTRC", "Riley Restricted", "restricted@example.com", "restricted_access", "Europe/Madrid", "Contractor"),
    ("PULTDSK", "Lee Stakeholder", "stakeholder@example.com", "read_only_limited_user", "Etc/UTC", "Sales"),
]
# (email, index in TEAMS): a restricted person on Mobile (and Security), a limited stakeholder on Payments.
SCOPED_USER_TEAMS = [("restricted@example.com", 2), ("stakeholder@example.com", 1)]
PRIORITIES = [
    ("P1", "Critical: customer-facing outage"),
    ("P2", "High: major degradation"),
    ("P3", "Moderate: partial degradation"),
    ("P4", "Low: minor issue"),
]
TEMPLATES = [
    (
        "Investigating",
        "First customer update",
        {
            "message": "We are investigating {{incident.title}} (#{{incident.incident_number}}).",
            "email_subject": "Investigating: {{incident.title}}",
            "email_body": "<p>We are investigating <b>{{incident.title}}</b>.</p>",
        },
    ),
    (
        "Mitigated",
        "Fix is in place, monitoring",
        {
            "message": "A fix for {{incident.title}} is in place; we are monitoring. {{status_update.message}}",
            "email_subject": "Mitigated: {{incident.title}}",
            "email_body": "<p>A fix is in place for <b>{{incident.title}}</b>.</p>",
        },
    ),
    (
        "Resolved",
        "Incident closed",
        {
            "message": "{{incident.title}} is resolved. Thank you for your patience.",
            "email_subject": "Resolved: {{incident.title}}",
            "email_body": "<p><b>{{incident.title}}</b> is resolved.</p>",
        },
    ),
]
PROBLEMS = [
    "High error rate on {svc}",
    "{svc} latency above SLO",
    "Disk almost full on {svc} node {n}",
    "{svc} health check failing",
    "CPU saturation on {svc}",
    "Certificate expiring soon for {svc}",
    "{svc} queue backlog growing",
    "Memory leak suspected in {svc}",
]

# Order matters: children before parents, so the raw deletes never trip a foreign key.
_FLUSH_ORDER = [
    m.Notification,
    m.ChangeEvent.services.through,
    m.ChangeEvent,
    m.ResponderRequest.targets.through,
    m.ResponderRequest,
    m.StatusUpdate,
    m.LogEntry,
    m.Note,
    m.Alert,
    m.Acknowledgement,
    m.Assignment,
    m.Incident,
    m.Template,
    m.Integration,
    m.Service.teams.through,
    m.Service,
    m.EscalationRule.targets.through,
    m.EscalationRule,
    m.EscalationPolicy.teams.through,
    m.EscalationPolicy,
    m.NotificationRule,
    m.ContactMethod,
    m.User.teams.through,
    m.User,
    m.Team,
    m.Priority,
]


class _Ids:
    """PagerDuty-style ids from a seeded RNG: the same sequence on every seed."""

    def __init__(self, rng):
        self.rng = rng
        self.seen = set()

    def __call__(self, prefix="P", length=7):
        while True:
            value = prefix + "".join(self.rng.choice(ID_ALPHABET) for _ in range(length - len(prefix)))
            if value not in self.seen:
                self.seen.add(value)
                return value

    def key(self):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(32))


def flush():
    flush_schedules()
    for model in _FLUSH_ORDER:
        model.objects.all()._raw_delete(using="default")


def routing_keys():
    return {i.service.name: i.integration_key for i in m.Integration.objects.select_related("service")}


@transaction.atomic
def seed(size: int = DEFAULT_SIZE, *, at: dt.datetime | None = None) -> dict:
    """Replace the account with the deterministic seed: `size` incidents spread over the last 30 days."""
    flush()
    rng = random.Random(SEED)
    ids = _Ids(rng)
    base = (at or now()).replace(second=0)
    start = base - dt.timedelta(days=30)

    teams = [m.Team(id=ids(), name=n, description=d) for n, d in TEAMS]
    m.Team.objects.bulk_create(teams)
    users = [
        m.User(
            id=ids(),
            name=n,
            email=e,
            role=r,
            time_zone=tz,
            job_title=j,
            created_at=start - dt.timedelta(days=300),
            color=["green", "red", "purple", "orange", "teal", "blue", "brown", "cayenne"][k],
        )
        for k, (n, e, r, tz, j) in enumerate(USERS)
    ]
    m.User.objects.bulk_create(users)
    team_members = {0: [1, 2, 4, 6], 1: [1, 3, 6, 7], 2: [0, 4, 5]}
    m.User.teams.through.objects.bulk_create(
        [m.User.teams.through(user_id=users[u].id, team_id=teams[t].id) for t, us in team_members.items() for u in us]
    )
    methods, rules = [], []
    user_methods = {}
    for k, user in enumerate(users):
        email = m.ContactMethod(id=ids(), user=user, type="email_contact_method", label="Work", address=user.email)
        phone = m.ContactMethod(
            id=ids(), user=user, type="phone_contact_method", label="Mobile", address=f"555010{k:04d}"
        )
        methods += [email, phone]
        user_methods[user.id] = email
        rules += [
            m.NotificationRule(id=ids(), user=user, contact_method=email, start_delay_in_minutes=0, urgency="high"),
            m.NotificationRule(id=ids(), user=user, contact_method=phone, start_delay_in_minutes=5, urgency="high"),
            m.NotificationRule(id=ids(), user=user, contact_method=email, start_delay_in_minutes=0, urgency="low"),
        ]
    m.ContactMethod.objects.bulk_create(methods)
    m.NotificationRule.objects.bulk_create(rules)

    policies, esc_rules, rule_targets, policy_levels = [], [], [], []
    for name, team_index, levels in POLICIES:
        policy = m.EscalationPolicy(
            id=ids(), name=name, description=f"Escalation for {TEAMS[team_index][0]}", num_loops=1
        )
        policies.append(policy)
        level_users = []
        for position, members in enumerate(levels, start=1):
            rule = m.EscalationRule(id=ids(), policy=policy, position=position, escalation_delay_in_minutes=30)
            esc_rules.append(rule)
            level_users.append([users[u] for u in members])
            rule_targets += [
                m.EscalationRule.targets.through(escalationrule_id=rule.id, user_id=users[u].id) for u in members
            ]
        policy_levels.append(level_users)
    m.EscalationPolicy.objects.bulk_create(policies)
    m.EscalationPolicy.teams.through.objects.bulk_create(
        [
            m.EscalationPolicy.teams.through(escalationpolicy_id=p.id, team_id=teams[POLICIES[k][1]].id)
            for k, p in enumerate(policies)
        ]
    )
    m.EscalationRule.objects.bulk_create(esc_rules)
    m.EscalationRule.targets.through.objects.bulk_create(rule_targets)

    services, integrations = [], []
    for name, policy_index, _team in SERVICES:
        service = m.Service(
            id=ids(),
            name=name,
            description=f"The {name} service",
            escalation_policy=policies[policy_index],
            created_at=start - dt.timedelta(days=200),
            updated_at=start - dt.timedelta(days=10),
            last_incident_timestamp=None,
        )
        services.append(service)
        integrations.append(
            m.Integration(
                id=ids(),
                service=service,
                name="Events API V2",
                integration_key=ids.key(),
                created_at=service.created_at,
            )
        )
    m.Service.objects.bulk_create(services)
    m.Service.teams.through.objects.bulk_create(
        [m.Service.teams.through(service_id=s.id, team_id=teams[SERVICES[k][2]].id) for k, s in enumerate(services)]
    )
    m.Integration.objects.bulk_create(integrations)
    priorities = [m.Priority(id=ids(), name=n, description=d, order=k) for k, (n, d) in enumerate(PRIORITIES)]
    m.Priority.objects.bulk_create(priorities)
    m.Template.objects.bulk_create(
        [
            m.Template(
                id=ids(),
                name=n,
                description=d,
                templated_fields=f,
                created_at=start,
                updated_at=start,
                created_by=users[1],
                updated_by=users[1],
            )
            for n, d, f in TEMPLATES
        ]
    )

    counts = _seed_incidents(
        size, rng, ids, base, users, user_methods, services, integrations, policies, policy_levels, priorities
    )
    counts.update(seed_schedules(base=base))
    extra = _seed_visibility(users, teams, start)
    return {"seeded": {"users": len(users) + extra["users"], "services": len(services) + extra["services"], **counts}}


def _seed_visibility(users, teams, start):
    """A private team with its own policy and service, and the two base roles that see only part of the account.

    Seeded last, with fixed ids, so every earlier id, the RNG sequence and the incident count stay as they were.
    The private team's service starts with no incidents: trigger one with its routing key (Events API) to see it.
    """
    security = m.Team.objects.create(
        id=PRIVATE_TEAM[0], name=PRIVATE_TEAM[1], description=PRIVATE_TEAM[2], default_role="none"
    )
    extra_users = [
        m.User(id=i, name=n, email=e, role=r, time_zone=tz, job_title=j, created_at=start - dt.timedelta(days=100))
        for i, n, e, r, tz, j in SCOPED_USERS
    ]
    m.User.objects.bulk_create(extra_users)
    by_email = {u.email: u for u in [*users, *extra_users]}
    links = [(security, by_email[e]) for e in PRIVATE_TEAM_MEMBERS]
    links += [(teams[t], by_email[e]) for e, t in SCOPED_USER_TEAMS]
    m.User.teams.through.objects.bulk_create([m.User.teams.through(user_id=u.id, team_id=t.id) for t, u in links])
    policy = m.EscalationPolicy.objects.create(
        id=PRIVATE_POLICY_ID, name="Security On-Call", description="Escalation for Security", num_loops=1
    )
    policy.teams.add(security)
    rule = m.EscalationRule.objects.create(
        id=PRIVATE_RULE_ID, policy=policy, position=1, escalation_delay_in_minutes=30
    )
    rule.targets.add(by_email[PRIVATE_TEAM_MEMBERS[-1]])
    service = m.Service.objects.create(
        id=PRIVATE_SERVICE_ID,
        name="Secrets Vault",
        description="The Secrets Vault service (a private team's)",
        escalation_policy=policy,
        created_at=start - dt.timedelta(days=200),
        updated_at=start - dt.timedelta(days=10),
        last_incident_timestamp=None,
    )
    service.teams.add(security)
    m.Integration.objects.create(
        id=PRIVATE_INTEGRATION_ID,
        service=service,
        name="Events API V2",
        integration_key=PRIVATE_INTEGRATION_KEY,
        created_at=service.created_at,
    )
    return {"users": len(extra_users), "services": 1}


def _seed_incidents(
    size, rng, ids, base, users, user_methods, services, integrations, policies, policy_levels, priorities
):
    span = 30 * 24 * 3600
    incidents, alerts, entries, assignments, acks, notes, notifications, changes, change_services = (
        [] for _ in range(9)
    )
    responders = users[1:6]
    for n in range(1, size + 1):
        k = rng.randrange(len(services))
        service, integration = services[k], integrations[k]
        policy_index = SERVICES[k][1]
        policy = policies[policy_index]
        # Older incidents are mostly resolved; the newest ones are still open.
        created = base - dt.timedelta(seconds=int(span * (size - n + 1) / (size + 1)) + rng.randrange(60))
        roll = rng.random()
        recent = n > size * 0.85
        status = (
            ("triggered" if roll < 0.5 else "acknowledged")
            if recent
            else ("resolved" if roll < 0.93 else ("triggered" if roll < 0.965 else "acknowledged"))
        )
        level_users = policy_levels[policy_index][0]
        title = rng.choice(PROBLEMS).format(svc=service.name, n=rng.randrange(1, 40))
        incident_id = ids()
        ack_user = rng.choice(level_users + responders[:1])
        ack_at = created + dt.timedelta(minutes=rng.randrange(1, 20))
        resolved_at = ack_at + dt.timedelta(minutes=rng.randrange(5, 240)) if status == "resolved" else None
        last_change = resolved_at or (ack_at if status == "acknowledged" else created)
        if last_change > base:
            last_change = base
            if resolved_at:
                resolved_at = base
        trigger_id = ids("R", 26)
        n_alerts = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
        incident = m.Incident(
            id=incident_id,
            number=n,
            title=title,
            status=status,
            urgency="high" if rng.random() < 0.75 else "low",
            service=service,
            escalation_policy=policy,
            escalation_level=1,
            priority=rng.choice([None, *priorities]) if rng.random() < 0.6 else None,
            incident_key=ids.key(),
            body_details=None,
            conference_bridge=None,
            assigned_via="escalation_policy",
            created_at=created,
            updated_at=last_change,
            last_status_change_at=last_change,
            last_status_change_by_user=None if status == "triggered" else ack_user,
            resolved_at=resolved_at,
            first_trigger_log_entry_id=trigger_id,
            alerts_triggered=0 if status == "resolved" else n_alerts,
            alerts_resolved=n_alerts if status == "resolved" else 0,
        )
        incidents.append(incident)
        for a in range(n_alerts):
            alert_key = incident.incident_key if a == 0 else ids.key()
            alerts.append(
                m.Alert(
                    id=ids(),
                    incident=incident,
                    service=service,
                    integration=integration,
                    status="resolved" if status == "resolved" else "triggered",
                    alert_key=alert_key,
                    summary=title if a == 0 else f"{title} ({a + 1})",
                    severity=rng.choice(["critical", "error", "warning"]),
                    body={
                        "type": "alert_body",
                        "contexts": [],
                        "details": {
                            "host": f"{service.name.lower().replace(' ', '-')}-{rng.randrange(1, 9)}",
                            "metric": "error_rate",
                            "value": round(rng.random() * 10, 2),
                        },
                    },
                    created_at=created + dt.timedelta(seconds=a * 30),
                )
            )
        entries.append(
            m.LogEntry(
                id=trigger_id,
                type="trigger_log_entry",
                summary="Triggered through the API",
                incident=incident,
                created_at=created,
                agent_service=service,
                channel={"type": "api", "summary": title, "details": {"host": "seed"}},
            )
        )
        assignee_refs = [{"id": u.id, "type": "user_reference", "summary": u.name} for u in level_users]
        entries.append(
            m.LogEntry(
                id=ids("R", 26),
                type="assign_log_entry",
                summary="Assigned to " + ", ".join(u.name for u in level_users),
                incident=incident,
                created_at=created,
                agent_service=service,
                channel={"type": "auto"},
                extra={"assignees": assignee_refs},
                is_overview=False,
            )
        )
        for u in level_users:
            notifications.append(
                m.Notification(
                    id=ids(), type="email_notification", started_at=created, address=u.email, user=u, incident=incident
                )
            )
            entries.append(
                m.LogEntry(
                    id=ids("R", 26),
                    type="notify_log_entry",
                    summary=f"Notified {u.name} by email",
                    incident=incident,
                    created_at=created + dt.timedelta(seconds=5),
                    agent_user=None,
                    agent_service=service,
                    channel={"type": "auto"},
                    extra={"user": {"id": u.id, "type": "user_reference", "summary": u.name}},
                    is_overview=False,
                )
            )
        if status != "triggered":
            entries.append(
                m.LogEntry(
                    id=ids("R", 26),
                    type="acknowledge_log_entry",
                    summary=f"Acknowledged by {ack_user.name}",
                    incident=incident,
                    created_at=ack_at,
                    agent_user=ack_user,
                    channel={"type": "website"},
                )
            )
        if status == "acknowledged":
            acks.append(m.Acknowledgement(incident=incident, user=ack_user, at=ack_at))
        if status != "resolved":
            assignments += [m.Assignment(incident=incident, user=u, at=created) for u in level_users]
        if rng.random() < 0.35:
            note_at = min(ack_at + dt.timedelta(minutes=2), base)
            text = rng.choice(
                [
                    "Looking into it.",
                    "Rolled back the last deploy.",
                    "Customer impact confirmed.",
                    "Scaling up the cluster.",
                    "Root cause: config change.",
                ]
            )
            notes.append(
                m.Note(id=ids(), incident=incident, user=ack_user, content=text, created_at=note_at, updated_at=note_at)
            )
            entries.append(
                m.LogEntry(
                    id=ids("R", 26),
                    type="annotate_log_entry",
                    summary=text,
                    incident=incident,
                    created_at=note_at,
                    agent_user=ack_user,
                    channel={"type": "note", "summary": text},
                    extra={"note": text},
                )
            )
        if status == "resolved":
            entries.append(
                m.LogEntry(
                    id=ids("R", 26),
                    type="resolve_log_entry",
                    summary=f"Resolved by {ack_user.name}",
                    incident=incident,
                    created_at=resolved_at,
                    agent_user=ack_user,
                    channel={"type": "website"},
                )
            )
        if n % 10 == 0:
            change = m.ChangeEvent(
                id=ids(),
                summary=f"Deploy #{n} of {service.name}",
                timestamp=created - dt.timedelta(minutes=15),
                source="ci-pipeline",
                integration=integration,
                custom_details={"build_number": str(n), "build_state": "passed"},
                links=[{"href": f"https://ci.example.com/build/{n}", "text": "Build"}],
            )
            changes.append(change)
            change_services.append(m.ChangeEvent.services.through(changeevent_id=change.id, service_id=service.id))
    batch = 2000
    m.Incident.objects.bulk_create(incidents, batch_size=batch)
    m.Alert.objects.bulk_create(alerts, batch_size=batch)
    m.LogEntry.objects.bulk_create(entries, batch_size=batch)
    m.Assignment.objects.bulk_create(assignments, batch_size=batch)
    m.Acknowledgement.objects.bulk_create(acks, batch_size=batch)
    m.Note.objects.bulk_create(notes, batch_size=batch)
    m.Notification.objects.bulk_create(notifications, batch_size=batch)
    m.ChangeEvent.objects.bulk_create(changes, batch_size=batch)
    m.ChangeEvent.services.through.objects.bulk_create(change_services, batch_size=batch)
    latest = {}
    for incident in incidents:
        latest[incident.service_id] = incident.created_at
    for service_id, at in latest.items():
        m.Service.objects.filter(pk=service_id).update(last_incident_timestamp=at)
    return {"incidents": len(incidents), "alerts": len(alerts), "log_entries": len(entries)}


def _restore_from_template(path):
    """Copy the template database over the live one with SQLite's backup API (milliseconds, connections stay)."""
    connection.ensure_connection()
    source = sqlite3.connect(path)
    try:
        source.backup(connection.connection)
    finally:
        source.close()


def reset(size: int | None = None) -> dict:
    """Back to the initial seed. With SANDBOX_SEED_TEMPLATE (a seeded SQLite file) this is a fast copy."""
    template = os.environ.get("SANDBOX_SEED_TEMPLATE")
    sqlite = connection.vendor == "sqlite"
    if size is None and template and sqlite and os.path.exists(template):
        _restore_from_template(template)
        return {"seeded": "template"}
    return seed(size or int(os.environ.get("SANDBOX_SEED_SIZE", DEFAULT_SIZE)))
