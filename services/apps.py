"""App config for services."""

from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"

    def ready(self) -> None:
        # why: health imports the app's models, loaded only after every app config (AppRegistryNotReady)
        from . import health  # noqa: F401 - registers the webhook subscription's /healthz check on import
