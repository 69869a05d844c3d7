"""Celery tasks of accounts: the periodic health check of the account connection shown on /settings/."""

from celery import shared_task

from .actions import connection_check
from .selectors import connection_mode


@shared_task(name="accounts.tasks.check_connection", acks_late=True, ignore_result=True)
def check_connection() -> None:
    """GET /abilities with the account connection; the result (and PagerDuty's error) is shown on /settings/."""

    if connection_mode() == "none":
        return
    connection_check()
