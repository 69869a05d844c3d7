"""App config for incidents."""

from celery.signals import worker_ready
from django.apps import AppConfig
from django.db.models.signals import post_save


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # The /healthz checks (worker, last sync, last webhook, sync lease) and the tasks outside tasks.py (outcome
        # settling, the sync watchdog) register on import.
        # why: these import the apps' models, which Django loads only after every app config (AppRegistryNotReady)
        from accounts.audit import write_outcome_unknown
        from incidents import health, outcomes, signals, sync_watchdog, tasks, webhooks  # noqa: F401
        from incidents.models import Priority
        from incidents.selectors import incident_audience
        from pdportal import live, reference_cache

        # Incident invalidations reach only the streams of people who may see the incident (accounts.visibility).
        live.set_audience("incident", incident_audience)
        reference_cache.watch(Priority)  # the list's priority picker
        write_outcome_unknown.connect(outcomes.on_write_outcome_unknown, dispatch_uid="incidents.outcomes")
        worker_ready.connect(
            signals.bootstrap_on_worker_start, dispatch_uid="incidents.signals.bootstrap_on_worker_start"
        )
        post_save.connect(
            signals.on_connection_saved, sender="accounts.Connection", dispatch_uid="incidents.signals.on_connection"
        )
