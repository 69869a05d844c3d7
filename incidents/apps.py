"""App config for incidents."""

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # The live layer's /healthz checks (worker, last sync, last webhook, subscription) register on import.
        from incidents import tasks, webhooks  # noqa: F401
