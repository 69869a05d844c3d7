"""App config of the PagerDuty allauth provider (installed so allauth's registry finds provider.py)."""

from django.apps import AppConfig


class PagerDutyProviderConfig(AppConfig):
    name = "accounts.pagerduty"
    label = "accounts_pagerduty"
    verbose_name = "PagerDuty sign-in"
