"""App config for services."""

from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"

    def ready(self) -> None:
        # why: health imports the app's models, loaded only after every app config (AppRegistryNotReady)
        from pdportal import reference_cache

        from . import health  # noqa: F401 - registers the webhook subscription's /healthz check on import
        from .models import EscalationPolicy, Service

        # Services and policies feed the list's pickers, kept per process until they change.
        reference_cache.watch(
            Service, EscalationPolicy, through=(Service.teams.through, EscalationPolicy.teams.through)
        )
