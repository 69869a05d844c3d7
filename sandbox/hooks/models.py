"""Webhook v3 subscriptions of the emulated account."""

from django.db import models


class WebhookSubscription(models.Model):
    id = models.CharField(primary_key=True, max_length=20)
    description = models.TextField(blank=True, default="")
    events = models.JSONField(default=list)
    filter_type = models.CharField(max_length=40, default="account_reference")
    filter_id = models.CharField(max_length=20, blank=True, default="")
    active = models.BooleanField(default=True)
    delivery_method_id = models.CharField(max_length=20)
    url = models.TextField()
    # Kept in clear: the sandbox must sign every delivery with it. Shown to the API only on create.
    secret = models.CharField(max_length=100)
    custom_headers = models.JSONField(default=list)
    temporarily_disabled = models.BooleanField(default=False)
    consecutive_failures = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"webhook subscription {self.id} -> {self.url}"
