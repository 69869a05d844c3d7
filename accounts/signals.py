"""Signals of the identity layer: a Profile for every user, role sync, sign-in, and writes of unknown outcome."""

from __future__ import annotations

from allauth.account.signals import user_logged_in  # allauth's signals module imports its models
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in as django_user_logged_in
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .actions import (
    memberships_refresh,
    session_bind,  # signals connect in AppConfig.ready, before actions may import models
    signin_complete,
)
from .clients import sessions_ended_announce
from .models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.create_profile")
def create_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        Profile.objects.get_or_create(user=instance)


@receiver(post_save, sender="accounts.PagerDutyUser", dispatch_uid="accounts.sync_profile_role")
def sync_profile_role(sender, instance, raw=False, **kwargs):
    """A role change mirrored from PagerDuty changes what the linked portal login may do."""
    if raw or not instance.role:
        return

    Profile.objects.filter(pd_user=instance).exclude(role=instance.role).update(role=instance.role)


def _on_login(sender, request, user, sociallogin=None, **kwargs):
    """After a PagerDuty sign-in, mirror who they are and keep their grant; warn when PagerDuty granted less.

    After a password sign-in (a portal login), read the person's PagerDuty teams again: they decide what the person
    sees, and PagerDuty sends no webhook when they change (a PagerDuty sign-in reads them from /users/me).
    """
    if sociallogin is None:
        if user.has_usable_password():
            # PagerDuty is never called inside a transaction: after it, if the sign-in runs in one.
            transaction.on_commit(lambda: memberships_refresh(user=user))
        return
    if sociallogin.account.provider != "pagerduty":
        return

    missing = signin_complete(request=request, user=user, sociallogin=sociallogin)
    if missing:
        messages.warning(
            request,
            "PagerDuty granted PD Portal less than it asked for (missing: "
            f"{', '.join(missing)}). Actions that need these permissions will be refused by PagerDuty; "
            "ask a PagerDuty admin to check your role or the app's scopes.",
        )


def _bind_session(sender, request, user, **kwargs):
    """Every sign-in (password, PagerDuty, or a test's force_login) stamps its session with who it acts as."""
    if request is None:
        return

    session_bind(request=request, user=user)


def _end_live_streams(sender, request, user, **kwargs):
    """Signing out ends the session's open live streams (pdportal.live) before anything published afterwards."""
    if user is None or request is None:
        return
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        # Django flushes the session only after this signal: delete it from the store now, so the streams' check
        # (run as soon as they hear the announcement) already finds it gone.
        session.delete()
    sessions_ended_announce(user_pk=user.pk)


def connect_allauth_signals() -> None:

    django_user_logged_in.connect(_bind_session, dispatch_uid="accounts.bind_session")
    user_logged_out.connect(_end_live_streams, dispatch_uid="accounts.end_live_streams")
    user_logged_in.connect(_on_login, dispatch_uid="accounts.pagerduty_login")
