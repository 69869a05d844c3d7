"""App config for incidents."""

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # The live layer's /healthz checks (worker, last sync, last webhook, subscription, sync lease) and the
        # tasks outside tasks.py (outcome settling, the sync watchdog) register on import.
        from accounts.signals import write_outcome_unknown
        from incidents import outcomes, sync_watchdog, tasks, webhooks  # noqa: F401

        write_outcome_unknown.connect(outcomes.on_write_outcome_unknown, dispatch_uid="incidents.outcomes")
