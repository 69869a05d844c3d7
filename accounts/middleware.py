"""Request middleware of the identity layer: sessions that outlived their identity, the time zone, dead grants."""

from __future__ import annotations

import logging
import zoneinfo

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from pdportal.pagerduty import Unauthorized

from .clients import revoke_grant
from .errors import NoAccountConnection, NotLinked, ReauthenticationRequired
from .models import OAuthGrant, Profile
from .selectors import SESSION_IDENTITY_KEY, prime_profile, session_identity  # selectors import models

logger = logging.getLogger("pdportal.accounts")


def _valid_zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class SessionIdentityMiddleware:
    """End a session whose person was relinked to another PagerDuty user, switched off or disconnected.

    Each session carries a stamp (accounts.selectors.session_identity) set at sign-in; the profile's epoch rises
    when an admin switches the login off or the person disconnects PagerDuty, and the stamp names the linked
    PagerDuty user, so any of these ends every session of that person at its next request. A switched-off login
    is already anonymous to Django (is_active); the epoch keeps its old sessions dead after it is switched on.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            prime_profile(user=user)
            current = session_identity(user=user)
            stamp = request.session.get(SESSION_IDENTITY_KEY)
            if stamp is None:
                # A session made before stamps existed (or built by hand, as the bench does): adopt it as it is.
                request.session[SESSION_IDENTITY_KEY] = current
            elif stamp != current:
                logger.info("Ending a session of user %s: %s is now %s", user.pk, stamp, current)
                logout(request)
                messages.info(request, "You were signed out: your PagerDuty identity here changed. Please sign in.")
        return self.get_response(request)


class TimezoneMiddleware:
    """Times render in the person's time zone (Profile.time_zone, from PagerDuty unless they changed it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                zone = _valid_zone(user.profile.time_zone)
            except Profile.DoesNotExist:
                zone = None
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ReauthenticationMiddleware:
    """A revoked or expired grant sends the person back to sign-in with a message, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Unauthorized):
            return self._unauthorized(request, exception)
        if isinstance(exception, ReauthenticationRequired):
            return self._sign_in_again(request, str(exception))
        if isinstance(exception, NoAccountConnection | NotLinked):
            return render(request, "accounts/not_connected.html", {"message": str(exception)}, status=503)
        return None

    def _unauthorized(self, request: HttpRequest, exception: Unauthorized) -> HttpResponse:
        user = getattr(request, "user", None)

        signed_in = user is not None and user.is_authenticated
        # Same rule as pagerduty_client_for: a password login acted with the account key, never a grant stored on it,
        # so a refusal is the key's fault (revoking the stray grant would hide that and sign the person out).
        acted_with_grant = signed_in and not user.has_usable_password()
        grant = OAuthGrant.objects.filter(user=user).first() if acted_with_grant else None
        if grant is not None:
            # PagerDuty refused the person's own token: it was revoked on PagerDuty's side.
            revoke_grant(grant=grant, reason=str(exception))
            return self._sign_in_again(
                request, "PagerDuty no longer accepts your sign-in (it was revoked or expired). Please sign in again."
            )
        logger.warning("PagerDuty refused the account API key: %s", exception)
        return render(
            request,
            "accounts/not_connected.html",
            {"message": f"PagerDuty refused PD Portal's API key ({exception}). An admin must fix it in Settings."},
            status=503,
        )

    def _sign_in_again(self, request: HttpRequest, message: str) -> HttpResponse:
        next_url = request.get_full_path() if request.method == "GET" else request.META.get("HTTP_REFERER", "/")
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            logout(request)
        messages.warning(request, message)
        target = redirect_to_login(next_url)
        if getattr(request, "htmx", False):
            response = HttpResponse(status=401)
            response["HX-Redirect"] = target["Location"]
            return response
        return target
