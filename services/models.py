"""Services, escalation policies and webhook subscriptions mirrored from PagerDuty."""

from django.db import models

from accounts.models import PagerDutyUser, Team
from pdportal.models import MirrorModel


class EscalationPolicy(MirrorModel):
    keeps_tombstone = True

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    num_loops = models.PositiveSmallIntegerField(default=0)
    html_url = models.URLField(blank=True)
    teams = models.ManyToManyField(Team, related_name="escalation_policies", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"


class Service(MirrorModel):
    keeps_tombstone = True

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=32, blank=True)
    html_url = models.URLField(blank=True)
    escalation_policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    teams = models.ManyToManyField(Team, related_name="services", blank=True)
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]


class WebhookSubscription(MirrorModel):
    """A v3 webhook subscription. `secret` is encrypted (pdportal.crypto) and only kept for our own URL."""

    url = models.URLField(max_length=1024)
    description = models.CharField(max_length=1024, blank=True)
    active = models.BooleanField(default=True)
    filter_type = models.CharField(max_length=64, blank=True)
    filter_id = models.CharField(max_length=64, blank=True)
    events = models.JSONField(default=list, blank=True)
    secret = models.TextField(blank=True)
    created_by_portal = models.BooleanField(default=False)

    class Meta:
        ordering = ["pd_id"]


class Schedule(MirrorModel):
    """An on-call schedule. `raw` is its last rendering (layers, overrides, final schedule) over the window below."""

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    html_url = models.URLField(blank=True)
    teams = models.ManyToManyField(Team, related_name="schedules", blank=True)
    rendered_since = models.DateTimeField(null=True, blank=True)
    rendered_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]


class ScheduleOverride(MirrorModel):
    """One override as PagerDuty lists it (`GET /schedules/{id}/overrides`); its id is what a delete needs."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(PagerDutyUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="overrides")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start", "pd_id"]


class OnCall(models.Model):
    """One row of `GET /oncalls`: a person on call for a policy's level, from a schedule or directly.

    The whole set is replaced at each refresh (PagerDuty gives on-calls no id); `start`/`end` are null for a
    person who is a direct target of the level (always on call there).
    """

    escalation_policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="oncalls")
    escalation_level = models.PositiveSmallIntegerField()
    user = models.ForeignKey(PagerDutyUser, on_delete=models.CASCADE, related_name="oncalls")
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.CASCADE, related_name="oncalls")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["escalation_policy", "escalation_level", "start", "pk"]
        indexes = [
            models.Index(fields=["escalation_policy", "escalation_level"], name="oncall_policy_level"),
            models.Index(fields=["user", "start"], name="oncall_user_start"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.escalation_policy_id} level {self.escalation_level}"
