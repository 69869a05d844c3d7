"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # why: these import the app's models, which Django loads only after every app config (AppRegistryNotReady)
        from pdportal import live, reference_cache

        from . import health, selectors, signals, visibility  # noqa: F401 - health registers its /healthz check
        from .roles import portal_role

        signals.connect_allauth_signals()
        # The live stream is for people linked to a PagerDuty user, like every page.
        live.set_listener_gate(lambda user: portal_role(user) is not None)
        # And it lives only as long as its session (pdportal cannot import this layer's rule).
        live.set_session_check(selectors.live_sessions_valid)
        # And it carries only what its viewer may see (accounts.visibility, the one rule).
        live.set_viewer_scopes(visibility.scopes_by_user)
        # People and teams feed the pickers and the private-team rule, kept per process until they change.
        from .models import PagerDutyUser, Team

        reference_cache.watch(PagerDutyUser, Team, through=(PagerDutyUser.teams.through,))
