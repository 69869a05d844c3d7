"""Platform models: the mirror's base (a PagerDuty id, raw JSON, change time), tombstones, stored webhook events and
background-job state."""

from typing import Any

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

    # True for models PagerDuty deletes: a deletion leaves a Tombstone, so a late webhook cannot revive the record.
    keeps_tombstone = False

    def __str__(self) -> str:
        return getattr(self, "name", None) or getattr(self, "title", None) or self.pd_id

    @classmethod
    def mirror_stub(cls, *, name: str, ref: Any) -> dict[str, Any]:
        """The columns of a stub made from a reference (`name` is its summary) before the object itself is read."""
        return {"name": name}


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
        db_table = "incidents_webhookevent"  # the table keeps its name from when incidents held it
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
        db_table = "incidents_tombstone"  # the table keeps its name from when incidents held it
        constraints = [models.UniqueConstraint(fields=["model", "pd_id"], name="tombstone_model_pd_id")]

    def __str__(self) -> str:
        return f"{self.model} {self.pd_id} deleted at {self.deleted_at:%Y-%m-%d %H:%M:%S}"
