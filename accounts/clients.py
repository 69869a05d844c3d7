"""Credentials: which PagerDuty client a person or a background job acts with, and the OAuth grants behind them
(stored encrypted, refreshed before expiry, revoked when PagerDuty refuses them)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pdportal import crypto, live
from pdportal.pagerduty import (
    EventsClient,
    NetworkError,
    OAuthError,
    PagerDutyClient,
    RequestBudget,
    ServerError,
    Unauthorized,
    budget_for,
)
from pdportal.pagerduty import oauth as pd_oauth
from pdportal.pagerduty.budget import SharedWindow, token_key
from pdportal.redis import get_redis

from .audit import audit_recorder
from .errors import NoAccountConnection, NotLinked, ReauthenticationRequired
from .models import Actor, Connection, OAuthGrant, Profile
from .selectors import oauth_enabled, stored_connection

logger = logging.getLogger("pdportal.accounts")

# Refresh a little before expiry so a request never leaves with a token that dies in flight.
REFRESH_MARGIN = timedelta(seconds=120)


def store_grant(*, user, token_set: pd_oauth.TokenSet, requested_scope: str = "") -> OAuthGrant:
    """Save (or replace) the person's tokens, encrypted; a new grant clears any earlier revocation."""
    defaults = {
        "access_token": crypto.encrypt(token_set.access_token),
        "refresh_token": crypto.encrypt(token_set.refresh_token) if token_set.refresh_token else "",
        "expires_at": token_set.expires_at,
        "scope": token_set.scope or requested_scope,
        "requested_scope": requested_scope,
        "revoked_at": None,
        "last_error": "",
    }
    grant, _ = OAuthGrant.objects.update_or_create(user=user, defaults=defaults)
    return grant


def sessions_ended_announce(*, user_pk: int) -> None:
    """Once committed, tell the open live streams of this person to check their session now (pdportal.live)."""
    transaction.on_commit(lambda: live.announce_session_end(user_pk=user_pk))


def revoke_grant(*, grant: OAuthGrant, reason: str) -> None:
    """Mark the grant dead and end every session of its person: a PagerDuty sign-in lives only as long as its grant."""
    OAuthGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now(), last_error=reason[:2000])
    Profile.objects.filter(user_id=grant.user_id).update(session_epoch=F("session_epoch") + 1)
    sessions_ended_announce(user_pk=grant.user_id)
    grant.revoked_at = timezone.now()
    grant.last_error = reason


def _decrypt(grant: OAuthGrant, field: str) -> str:
    try:
        return crypto.decrypt(getattr(grant, field))
    except ValueError as exc:
        # The key that encrypted it was removed: the grant is unusable, so the person signs in again.
        revoke_grant(grant=grant, reason=str(exc))
        raise ReauthenticationRequired() from None


def _fresh_enough(grant: OAuthGrant) -> bool:
    return grant.expires_at - timezone.now() > REFRESH_MARGIN


def access_token_for(*, grant: OAuthGrant) -> str:
    """A usable access token for the grant, refreshing (and saving the rotated refresh token) when needed.

    Raises ReauthenticationRequired when the grant is revoked, expired beyond refresh, or refused.
    """
    if grant.revoked_at is not None:
        raise ReauthenticationRequired()
    if _fresh_enough(grant):
        return _decrypt(grant, "access_token")
    refused: str | None = None
    with transaction.atomic():
        # Two requests may find the token stale at once; the row lock lets only one spend the refresh token.
        locked = OAuthGrant.objects.select_for_update().get(pk=grant.pk)
        if locked.revoked_at is not None:
            raise ReauthenticationRequired()
        if _fresh_enough(locked):
            _copy(locked, grant)
            return _decrypt(locked, "access_token")
        if not locked.refresh_token:
            refused = "The access token expired and PagerDuty gave no refresh token"
        else:
            try:
                tokens = pd_oauth.refresh(
                    oauth_url=settings.PAGERDUTY_OAUTH_URL,
                    client_id=settings.PAGERDUTY_CLIENT_ID,
                    client_secret=settings.PAGERDUTY_CLIENT_SECRET,
                    refresh_token=_decrypt(locked, "refresh_token"),
                    timeout=settings.PAGERDUTY_TIMEOUT,
                    debug=settings.PAGERDUTY_DEBUG,
                )
            except (NetworkError, ServerError) as exc:
                # PagerDuty is unreachable, not refusing: keep the grant; use the old token while it lives.
                logger.warning("Token refresh for %s failed: %s", locked.user_id, exc)
                if locked.expires_at > timezone.now():
                    return _decrypt(locked, "access_token")
                raise
            except OAuthError as exc:
                refused = str(exc)
            else:
                locked.access_token = crypto.encrypt(tokens.access_token)
                if tokens.refresh_token:
                    locked.refresh_token = crypto.encrypt(tokens.refresh_token)
                locked.expires_at = tokens.expires_at
                if tokens.scope:
                    locked.scope = tokens.scope
                locked.last_error = ""
                locked.save(
                    update_fields=["access_token", "refresh_token", "expires_at", "scope", "last_error", "updated_at"]
                )
                _copy(locked, grant)
                return tokens.access_token
    # Outside the transaction so the revocation is kept.
    revoke_grant(grant=grant, reason=refused or "refused")
    raise ReauthenticationRequired()


def _copy(source: OAuthGrant, target: OAuthGrant) -> None:
    for name in ("access_token", "refresh_token", "expires_at", "scope", "revoked_at", "last_error"):
        setattr(target, name, getattr(source, name))


# -- the clients -------------------------------------------------------------------------------------------------


class GrantClient(PagerDutyClient):
    """A client on one person's OAuth grant: PagerDuty refusing the token means "sign in again", not an error.

    Raising ReauthenticationRequired (not a PagerDutyError) keeps views that show PagerDuty errors in place from
    swallowing it; the accounts middleware turns it into a redirect to sign-in.
    """

    grant_id: int | None = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(*args, **kwargs)
        except Unauthorized as exc:
            if self.grant_id is None:
                raise
            grant = OAuthGrant.objects.filter(pk=self.grant_id).first()
            if grant is not None:
                revoke_grant(grant=grant, reason=str(exc))
            raise ReauthenticationRequired(
                "PagerDuty no longer accepts your sign-in (it was revoked or expired). Please sign in again."
            ) from exc


def _budget(token: str) -> RequestBudget:
    """The token's budget in this process, tied to its window in Redis so all processes share PagerDuty's limit."""
    budget = budget_for(token, settings.PAGERDUTY_REQUESTS_PER_MINUTE)
    if not settings.REDIS_URL:
        budget.shared = None
        return budget
    # Keyed by host and token (hashed): the sandbox and PagerDuty, or two accounts, are separate limits.
    key = "pdportal:budget:" + token_key(f"{settings.PAGERDUTY_API_URL}\n{token}")[:32]
    if budget.shared is None or budget.shared.key != key:
        budget.shared = SharedWindow(redis=get_redis(), key=key)
    return budget


def _client(*, token: str, auth: str, from_email: str | None, on_write, grant_id: int | None = None) -> PagerDutyClient:
    cls = GrantClient if grant_id is not None else PagerDutyClient
    client = cls(
        token=token,
        auth=auth,  # type: ignore[arg-type]
        api_url=settings.PAGERDUTY_API_URL,
        from_email=from_email,
        on_write=on_write,
        debug=settings.PAGERDUTY_DEBUG,
        timeout=settings.PAGERDUTY_TIMEOUT,
        budget=_budget(token),
    )
    if grant_id is not None:
        client.grant_id = grant_id
    return client


def api_key() -> str:
    """The account API key: PAGERDUTY_API_TOKEN wins over a key stored on the Settings page."""
    if settings.PAGERDUTY_API_TOKEN:
        return settings.PAGERDUTY_API_TOKEN
    connection = stored_connection()
    if connection is not None and connection.mode == Connection.Mode.API_KEY and connection.api_key:
        try:
            return crypto.decrypt(connection.api_key)
        except ValueError:
            raise NoAccountConnection(
                "The stored PagerDuty API key cannot be decrypted (its key was removed from FIELD_ENCRYPTION_KEYS); "
                "an admin must enter it again on the Settings page."
            ) from None
    return ""


def pagerduty_email(*, user: Actor) -> str | None:
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        return None
    if profile.pd_user_id and profile.pd_user.email:
        return profile.pd_user.email
    return None


def pagerduty_client_for(*, user: Actor, operation: str = "") -> PagerDutyClient:
    """A client acting as this person: their OAuth token, or the account key with `From: <their email>`.

    Raises ReauthenticationRequired (grant revoked/expired), NotLinked (no PagerDuty user to act as),
    or NoAccountConnection (neither OAuth nor an API key is available).
    """
    if user is None or not user.is_authenticated:
        raise ReauthenticationRequired("Please sign in to act in PagerDuty.")
    email = pagerduty_email(user=user)
    on_write = audit_recorder(user=user, operation=operation)
    # A password login never acts with an OAuth grant, even one stored on it by mistake: only a PagerDuty
    # sign-in (which has no usable password) holds its own token (issue 11, findings 3 and 4).
    grant = None if user.has_usable_password() else OAuthGrant.objects.filter(user=user).first()
    if grant is not None:
        # Someone who signed in with PagerDuty always acts with their own token, never the account key.
        token = access_token_for(grant=grant)
        return _client(token=token, auth="bearer", from_email=email, on_write=on_write, grant_id=grant.pk)
    key = api_key()
    if key:
        if not email:
            raise NotLinked()
        return _client(token=key, auth="token", from_email=email, on_write=on_write)
    if oauth_enabled():
        raise ReauthenticationRequired("Sign in with PagerDuty to act in PagerDuty.")
    raise NoAccountConnection()


def acting_client(
    *, actor: AbstractBaseUser | AnonymousUser, client: PagerDutyClient | None = None, operation: str = ""
) -> PagerDutyClient:
    """The client an action uses: the one given (a test's, or a batch's shared client), else one acting as `actor`."""
    return client if client is not None else pagerduty_client_for(user=actor, operation=operation)


def account_client() -> PagerDutyClient:
    """The account connection for background jobs: the API key if any, else the connecting admin's grant."""
    on_write = audit_recorder(user=None, operation="")
    key = api_key()
    if key:
        return _client(token=key, auth="token", from_email=None, on_write=on_write)
    connection = stored_connection()
    if connection is not None and connection.mode == Connection.Mode.OAUTH and connection.oauth_user_id:
        grant = OAuthGrant.objects.filter(user_id=connection.oauth_user_id).first()
        if grant is None:
            raise NoAccountConnection(
                "The admin who connected PD Portal has no PagerDuty grant any more; an admin must reconnect "
                "on the Settings page (/settings/)."
            )
        try:
            token = access_token_for(grant=grant)
        except ReauthenticationRequired:
            raise NoAccountConnection(
                "The PagerDuty grant of the admin who connected PD Portal was revoked or expired; an admin must "
                "reconnect on the Settings page (/settings/)."
            ) from None
        email = pagerduty_email(user=connection.oauth_user)
        return _client(token=token, auth="bearer", from_email=email, on_write=on_write)
    raise NoAccountConnection()


def events_client(*, user: Actor | None = None) -> EventsClient:
    """Events API v2 client (routing keys authenticate each event; no REST token involved).

    Each event sent is audited under `user` (None: the portal itself), like a REST write.
    """
    return EventsClient(
        events_url=settings.PAGERDUTY_EVENTS_URL,
        debug=settings.PAGERDUTY_DEBUG,
        timeout=settings.PAGERDUTY_TIMEOUT,
        on_write=audit_recorder(user=user),
    )
