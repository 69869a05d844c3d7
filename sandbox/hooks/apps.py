"""App config for the sandbox's Webhooks v3."""

from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "sandbox.hooks"
    label = "sandbox_hooks"
    verbose_name = "Sandbox Webhooks v3"
    default_auto_field = "django.db.models.BigAutoField"
