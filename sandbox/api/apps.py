"""App config of the sandbox account app (label `sandbox_api`)."""

from django.apps import AppConfig


class SandboxApiConfig(AppConfig):
    name = "sandbox.api"
    label = "sandbox_api"
    default_auto_field = "django.db.models.BigAutoField"
