"""The incident mirror: incidents and what hangs off them (stored webhook events live in pdportal.models)."""

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.models import PagerDutyUser, Team
from pdportal.models import MirrorModel
from services.models import EscalationPolicy, Service


class Priority(MirrorModel):
    keeps_tombstone = True

    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    order = models.IntegerField(default=0)
    color = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-order", "name"]
        verbose_name_plural = "priorities"

    @classmethod
    def mirror_stub(cls, *, name: str, ref: Any) -> dict[str, Any]:
        return {"name": name[:64]}


class Incident(MirrorModel):
    class Status(models.TextChoices):
        TRIGGERED = "triggered"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    class Urgency(models.TextChoices):
        HIGH = "high"
        LOW = "low"

    number = models.PositiveIntegerField(db_index=True)
    title = models.CharField(max_length=1024)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.HIGH)
    priority = models.ForeignKey(Priority, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents")
    escalation_policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    teams = models.ManyToManyField(Team, related_name="incidents", blank=True)
    assignees = models.ManyToManyField(PagerDutyUser, related_name="assigned_incidents", blank=True)
    incident_key = models.CharField(max_length=255, blank=True)
    html_url = models.URLField(blank=True)
    created_at = models.DateTimeField(db_index=True)
    last_status_change_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    # Lower-cased title, number, id and alert summaries: the free-text filter reads one column.
    search_text = models.TextField(blank=True)
    # Timers from PagerDuty's `pending_actions` (REST Incident): when it escalates next, and when an acknowledged
    # incident goes back to triggered (the acknowledgement timeout, or the end of a snooze).
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    unacknowledge_at = models.DateTimeField(null=True, blank=True)
    # The end of the latest snooze (from its snooze_log_entry): it is the snooze's while unacknowledge_at equals it.
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # The policy level the assignees hold (from the policy's rules; None: assigned directly, or not known).
    escalation_level = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-number"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="incident_status_created"),
            models.Index(fields=["service", "status"], name="incident_service_status"),
        ]

    @classmethod
    def mirror_stub(cls, *, name: str, ref: Any) -> dict[str, Any]:
        return {"number": 0, "title": name, "status": "triggered", "created_at": timezone.now()}

    @property
    def snooze_end(self):
        """Until when the incident is snoozed, or None."""
        return snooze_end(self.status, self.unacknowledge_at, self.snoozed_until)

    @property
    def acknowledgement_lapses_at(self):
        """When the acknowledgement times out (back to triggered), or None (not acknowledged, snoozed, no timeout)."""
        return acknowledgement_lapses_at(self.status, self.unacknowledge_at, self.snoozed_until)

    @property
    def escalates_at(self):
        """When PagerDuty escalates it next (only while triggered), or None."""
        return self.next_escalation_at if self.status == Incident.Status.TRIGGERED else None


def snooze_end(status: str, unacknowledge_at, snoozed_until):
    """The snooze's end while the pending unacknowledge is the snooze's (a new acknowledgement replaces it)."""
    if status != Incident.Status.ACKNOWLEDGED or snoozed_until is None:
        return None
    return snoozed_until if unacknowledge_at is None or unacknowledge_at == snoozed_until else None


def acknowledgement_lapses_at(status: str, unacknowledge_at, snoozed_until):
    if status != Incident.Status.ACKNOWLEDGED or unacknowledge_at is None:
        return None
    return None if snooze_end(status, unacknowledge_at, snoozed_until) else unacknowledge_at


class Alert(MirrorModel):
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    status = models.CharField(max_length=16)
    severity = models.CharField(max_length=16, blank=True)
    summary = models.CharField(max_length=1024, blank=True)
    alert_key = models.CharField(max_length=255, blank=True)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    body = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]


class Note(MirrorModel):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    content = models.TextField()
    user = models.ForeignKey(PagerDutyUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]


class LogEntry(MirrorModel):
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="log_entries")
    type = models.CharField(max_length=64)
    summary = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)
    agent = models.JSONField(default=dict, blank=True)
    channel = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "log entries"
        # "The first acknowledgement of this incident" (insights' MTTA) is one index seek.
        indexes = [models.Index(fields=["incident", "type", "created_at"], name="logentry_incident_type_at")]


class Responder(models.Model):
    """One requested responder of an incident and their answer (REST `incidents_responders`, webhook
    `incident_responder`): pending, joined (accepted), declined or user_cancelled."""

    class State(models.TextChoices):
        PENDING = "pending"
        JOINED = "joined"  # REST's word for an accepted request; webhooks say "accepted"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        CANCELLED = "user_cancelled"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="responders")
    user = models.ForeignKey(PagerDutyUser, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, default=State.PENDING)
    message = models.TextField(blank=True)
    requester = models.ForeignKey(PagerDutyUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["incident", "user"], name="responder_incident_user")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.incident_id}: {self.state}"

    @property
    def answer(self) -> str:
        """The state in one word: pending, accepted, declined or cancelled."""
        return {"joined": "accepted", "user_cancelled": "cancelled"}.get(self.state, self.state)


class StatusUpdate(MirrorModel):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    message = models.TextField()
    subject = models.CharField(max_length=1024, blank=True)
    sender = models.ForeignKey(PagerDutyUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]


class ChangeEvent(MirrorModel):
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField(db_index=True)
    integration_id = models.CharField(max_length=64, blank=True)
    services = models.ManyToManyField(Service, related_name="change_events", blank=True)
    custom_details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-timestamp"]


class StatusUpdateTemplate(MirrorModel):
    keeps_tombstone = True

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    template_type = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=1024, blank=True)
    email_body = models.TextField(blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]


class SavedView(models.Model):
    """A person's named filter set for the incident list. The view is its query string: its URL opens it for
    anyone (each under their own visibility), but only its owner lists or deletes it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_owner_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        base = reverse("incidents:list")
        return f"{base}?{self.query}" if self.query else base
