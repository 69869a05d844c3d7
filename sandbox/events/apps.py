"""App config for the sandbox's Events API v2."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "sandbox.events"
    label = "sandbox_events"
    verbose_name = "Sandbox Events API v2"
    default_auto_field = "django.db.models.BigAutoField"
