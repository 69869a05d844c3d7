"""Services, escalation policies and webhook subscriptions mirrored from PagerDuty."""

from django.db import models

from accounts.models import Team
from pdportal.models import MirrorModel


class EscalationPolicy(MirrorModel):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    num_loops = models.PositiveSmallIntegerField(default=0)
    html_url = models.URLField(blank=True)
    teams = models.ManyToManyField(Team, related_name="escalation_policies", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"


class Service(MirrorModel):
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
