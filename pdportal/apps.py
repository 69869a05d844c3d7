"""App config for the project package (health checks, shared templates and tasks)."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "pdportal"
    verbose_name = "PD Portal"

    def ready(self) -> None:
        # why: Django's checks registry is filled once the apps are ready, not at import
        from . import checks  # noqa: F401  (registers the deployment checks)
