"""App config that lets the portal install `sandbox` only to expose the `manage.py sandbox` command."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    label = "sandbox"
    verbose_name = "PagerDuty sandbox (command only)"
