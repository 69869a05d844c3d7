"""The incident mirror: incidents and what hangs off them, plus stored webhook events."""

from django.db import models

from accounts.models import PagerDutyUser, Team
from pdportal.models import MirrorModel
from services.models import EscalationPolicy, Service


class Priority(MirrorModel):
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    order = models.IntegerField(default=0)
    color = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-order", "name"]
        verbose_name_plural = "priorities"


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
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    template_type = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=1024, blank=True)
    email_body = models.TextField(blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]


class WebhookEvent(models.Model):
    """One received webhook v3 event, stored once by its event id before anything else happens."""

    event_id = models.CharField(max_length=128, unique=True)
    webhook_id = models.CharField(max_length=128, blank=True)
    subscription_id = models.CharField(max_length=64, blank=True)
    event_type = models.CharField(max_length=128, db_index=True)
    resource_type = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True, db_index=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set by the consumer once the event is applied to the mirror (the receiver only stores it).
    applied_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.TextField(blank=True)
    # Sweeps that failed to process it with a non-transient error (see incidents.tasks.sweep_webhook_events).
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The consumer's queue: events not yet applied, oldest change first.
            models.Index(
                fields=["occurred_at", "id"],
                name="webhook_event_unapplied",
                condition=models.Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class Tombstone(models.Model):
    """A mirrored record PagerDuty deleted, and when: a late webhook older than the deletion cannot revive it.

    The row itself is deleted (every list and page keeps hiding it with no filter); only this marker stays.
    """

    model = models.CharField(max_length=100)  # the mirrored model's label, e.g. "services.Service"
    pd_id = models.CharField(max_length=64)
    deleted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "pd_id"], name="tombstone_model_pd_id")]

    def __str__(self) -> str:
        return f"{self.model} {self.pd_id} deleted at {self.deleted_at:%Y-%m-%d %H:%M:%S}"
