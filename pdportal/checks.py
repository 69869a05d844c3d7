"""Deployment checks (`manage.py check --deploy`): what a production PD Portal must not run without."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def redis_configured(app_configs=None, **kwargs) -> list[Warning]:
    # Without Redis, Celery falls back to an in-process memory broker (tasks queued by the web process never
    # reach a worker) and the live bus is off: fine for tests, never for a deployment.
    if settings.REDIS_URL:
        return []
    return [
        Warning(
            "REDIS_URL is unset: background sync and webhook enrichment would never run, and pages would not update "
            "live.",
            hint="Set REDIS_URL=redis://host:6379/0 (make run starts an embedded server for demos).",
            id="pdportal.W001",
        )
    ]
