"""The people directory mirrored from PagerDuty (users, teams) and the portal's audit log."""

from django.conf import settings
from django.db import models

from pdportal.models import MirrorModel


class Team(MirrorModel):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]


class PagerDutyUser(MirrorModel):
    """A PagerDuty user as mirrored; a portal login links to one of these (accounts.Profile)."""

    name = models.CharField(max_length=255)
    email = models.EmailField(db_index=True)
    role = models.CharField(max_length=32, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    job_title = models.CharField(max_length=255, blank=True)
    html_url = models.URLField(blank=True)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)

    class Meta:
        ordering = ["name"]


class AuditEntry(models.Model):
    """One write the portal sent to PagerDuty, on whose behalf, and what PagerDuty answered."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=255, blank=True)
    operation = models.CharField(max_length=128, db_index=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    target = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_label} {self.method} {self.path} {self.status}"
