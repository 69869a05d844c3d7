"""PD Portal: a self-hosted, live web console for on-call teams on PagerDuty."""

from pdportal.celery import app as celery_app

__all__ = ["celery_app"]
