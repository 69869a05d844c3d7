"""App config for the sandbox's API keys and OAuth."""

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "sandbox.identity"
    label = "sandbox_identity"
    verbose_name = "Sandbox API keys and OAuth"
    default_auto_field = "django.db.models.BigAutoField"
