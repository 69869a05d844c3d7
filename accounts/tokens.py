"""OAuth grants: store tokens encrypted, hand out a fresh access token, refresh (rotating) before expiry."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pdportal import crypto
from pdportal.pagerduty import NetworkError, OAuthError, ServerError
from pdportal.pagerduty import oauth as pd_oauth

from .errors import ReauthenticationRequired
from .models import OAuthGrant, Profile

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


def revoke_grant(*, grant: OAuthGrant, reason: str) -> None:
    """Mark the grant dead and end every session of its person: a PagerDuty sign-in lives only as long as its grant."""
    OAuthGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now(), last_error=reason[:2000])
    Profile.objects.filter(user_id=grant.user_id).update(session_epoch=F("session_epoch") + 1)
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
