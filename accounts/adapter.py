"""allauth adapters: no self-service sign-up, PagerDuty sign-ins bound by PagerDuty user id only, friendly errors."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.base.constants import AuthError
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .actions import signin_binding_refusal, signin_refusal  # allauth imports adapters before models load

PROVIDER_ID = "pagerduty"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Local accounts are created by an admin (manage.py create_portal_user); PagerDuty sign-in creates its own.
        return False

    def respond_user_inactive(self, request: HttpRequest, user) -> HttpResponse:
        # allauth's "account inactive" page is not mounted; say it here.
        context = {
            "title": "This login is switched off",
            "explanation": "A PD Portal admin switched this login off. Ask them to switch it on again.",
            "provider": None,
        }
        return render(request, "socialaccount/authentication_error.html", context, status=403)


def friendly_error(*, error=None, exception=None, extra_context=None) -> tuple[str, str, int]:
    """(title, explanation, status) for a failed PagerDuty sign-in."""
    extra_context = extra_context or {}
    if error == AuthError.CANCELLED:
        return (
            "Sign-in cancelled",
            "You declined to let PD Portal use your PagerDuty account, so you are not signed in. "
            "You can try again, or sign in with a portal password if an admin gave you one.",
            200,
        )
    if exception is None and "state" not in extra_context:
        return (
            "This sign-in link is not valid",
            "The sign-in answer did not match a sign-in started from this browser (it may be old, used twice, "
            "or tampered with). Please start again.",
            400,
        )
    detail = str(exception) if exception else ""
    if any(s in detail for s in ("invalid_grant", "refused the sign-in code", "Unauthorized", "did not tell us who")):
        return (
            "PagerDuty did not accept this sign-in",
            "The sign-in code or token was unknown, expired or revoked. Please start again.",
            400,
        )
    if "Could not reach" in detail:
        return ("PagerDuty is not reachable", "PD Portal could not reach PagerDuty. Please try again shortly.", 200)
    return ("Sign-in with PagerDuty failed", detail or "PagerDuty did not complete the sign-in.", 400)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request: HttpRequest, provider=None, client_id=None):
        apps = [
            app
            for app in super().list_apps(request, provider=provider, client_id=client_id)
            if app.provider != PROVIDER_ID
        ]
        if provider in (None, PROVIDER_ID) and settings.PAGERDUTY_CLIENT_ID:
            # Built from the live settings (not import-time SOCIALACCOUNT_PROVIDERS) so no SocialApp row is needed.
            app = SocialApp(
                provider=PROVIDER_ID,
                name="PagerDuty",
                client_id=settings.PAGERDUTY_CLIENT_ID,
                secret=settings.PAGERDUTY_CLIENT_SECRET,
                # No email authentication: a PagerDuty sign-in never joins an account through an email.
                settings={"oauth_pkce_enabled": True, "email_authentication": False},
            )
            if not client_id or client_id == app.client_id:
                apps.append(app)
        return apps

    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        return sociallogin.account.provider == PROVIDER_ID

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        """Refuse, before any account is created or joined, a person from another PagerDuty account.

        allauth has looked the sign-in up by its SocialAccount (uid = PagerDuty user id) only: it is either that
        account's own portal user, or a new one. Anything else (an email match) is refused.
        """
        if sociallogin.account.provider != PROVIDER_ID:
            return

        data = dict(sociallogin.account.extra_data or {})
        reason = signin_refusal(data=data) or signin_binding_refusal(sociallogin=sociallogin)
        if sociallogin.state.get("process") not in (None, "", AuthProcess.LOGIN):
            # "connect" would attach whoever finishes the flow to the account signed in here: only sign-in exists.
            reason = reason or "PD Portal only signs people in with PagerDuty; it does not connect accounts."
        if reason:
            context = {"title": "Not this portal's PagerDuty account", "explanation": reason, "provider": None}
            raise ImmediateHttpResponse(render(request, "socialaccount/authentication_error.html", context, status=403))
        # allauth would weigh PagerDuty's email against other accounts' (and send a clash to its sign-up form,
        # which is not mounted); the email is display only, so the sign-in carries no addresses to compare.
        sociallogin.email_addresses = []

    def authenticate_by_email(self, sociallogin):
        # Never: an email proves nothing about who a portal account belongs to (issue 11, finding 1).
        return None

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin) -> bool:
        return True

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None) -> None:
        title, explanation, status = friendly_error(error=error, exception=exception, extra_context=extra_context)
        context = {"title": title, "explanation": explanation, "provider": provider}
        raise ImmediateHttpResponse(render(request, "socialaccount/authentication_error.html", context, status=status))
