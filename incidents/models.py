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

    class Meta:
        ordering = ["-created_at", "-number"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="incident_status_created"),
            models.Index(fields=["service", "status"], name="incident_service_status"),
        ]

    @classmethod
    def mirror_stub(cls, *, name: str, ref: Any) -> dict[str, Any]:
        return {"number": 0, "title": name, "status": "triggered", "created_at": timezone.now()}


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
