"""Shared model pieces: every mirrored PagerDuty record has a unique id, its raw JSON and its change time."""

from django.db import models


class MirrorModel(models.Model):
    """A local copy of one PagerDuty object.

    `changed_at` is PagerDuty's time of the last change we applied (from `updated_at`, a webhook's
    `occurred_at` or a log entry), so an older event never overwrites a newer state.
    """

    pd_id = models.CharField(max_length=64, unique=True)
    raw = models.JSONField(default=dict, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return getattr(self, "name", None) or getattr(self, "title", None) or self.pd_id


class SyncState(models.Model):
    """Progress and watermark of one background job (initial sync, reconcile), shown in UI and /healthz."""

    name = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, default="idle")  # idle, running, done, failed
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    watermark = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The step under way: {"step": name, "number": n, "count": of how many, "done": n, "total": n or None}.
    progress = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"
