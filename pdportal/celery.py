"""The Celery app: configured from Django settings (CELERY_*), Redis as the broker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdportal.settings")

app = Celery("pdportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
