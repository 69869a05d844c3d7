"""Project-wide Celery tasks: the worker heartbeat that /healthz reads."""

import time

from celery import shared_task

from pdportal.redis import get_redis

HEARTBEAT_KEY = "pdportal:worker:heartbeat"


@shared_task(name="pdportal.tasks.heartbeat", acks_late=True, ignore_result=True)
def heartbeat() -> None:
    get_redis().set(HEARTBEAT_KEY, str(time.time()), ex=300)
