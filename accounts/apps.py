"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from . import health, signals  # noqa: F401 - health registers its /healthz check on import

        signals.connect_allauth_signals()
