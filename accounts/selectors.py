"""Reads of the identity layer: the account connection, a session's identity, a person's teams, the Settings page."""

from __future__ import annotations

from collections.abc import Collection
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from pdportal import health
from pdportal.models import SyncState

from .models import Actor, Connection, OAuthGrant, PagerDutyUser, Profile

if TYPE_CHECKING:
    from pdportal.live import Listener


def stored_connection() -> Connection | None:
    return Connection.objects.filter(pk=1).select_related("oauth_user").first()


def connection_mode() -> str:
    """ "api_key", "oauth" or "none": how background jobs reach PagerDuty."""
    if settings.PAGERDUTY_API_TOKEN:
        return Connection.Mode.API_KEY
    connection = stored_connection()
    if connection is None:
        return Connection.Mode.NONE
    if connection.mode == Connection.Mode.API_KEY and connection.api_key:
        return Connection.Mode.API_KEY
    if connection.mode == Connection.Mode.OAUTH and connection.oauth_user_id:
        return Connection.Mode.OAUTH
    return Connection.Mode.NONE


def oauth_enabled() -> bool:
    return bool(settings.PAGERDUTY_CLIENT_ID)


SESSION_IDENTITY_KEY = "pdportal_identity"


def prime_profile(*, user: Actor) -> None:
    """Read the person's profile and its PagerDuty user in one query, kept where `user.profile` finds them.

    Every signed-in request reads both (the session stamp, the time zone, the visibility rules, the page's live
    attributes): one join instead of two lookups. A profile already read is left as it is."""
    related = Profile.user.field.remote_field  # the reverse side: `user.profile`
    if related.is_cached(user):
        return
    profile = Profile.objects.select_related("pd_user").filter(user=user).first()
    related.set_cached_value(user, profile)
    if profile is not None:
        Profile.user.field.set_cached_value(profile, user)


def session_identity(*, user: Actor) -> str:
    """The stamp a session of this person carries: the PagerDuty user it acts as, and the profile's epoch.

    accounts.middleware ends a session whose stamp differs: the person was relinked, switched off or disconnected.
    """
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        return "none:0"
    return f"{profile.pd_user_id or 'none'}:{profile.session_epoch}"


def pd_user_of(user: Actor) -> PagerDutyUser | None:
    """The mirrored PagerDuty user the portal user is linked to, if any."""
    profile = getattr(user, "profile", None) if getattr(user, "is_authenticated", False) else None
    return getattr(profile, "pd_user", None) if profile is not None else None


def live_sessions_valid(listeners: Collection[Listener]) -> set[Listener]:
    """Which open live streams' sessions are still valid, by the rule of accounts.middleware (one batch).

    Valid: the session still exists and has not expired, belongs to that portal user, whose login is active and
    whose password is unchanged (Django's session hash), and its stamp (PagerDuty user and epoch) is the current one
    (a session without a stamp adopts the current one at its next request, as the middleware does).
    """
    if not listeners:
        return set()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = {listener.session_key for listener in listeners if listener.session_key}
    sessions: dict[str, dict] = {}
    if hasattr(store, "get_model_class"):  # a database-backed engine: one query for every stream of the process
        rows = store.get_model_class().objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
        for key, data in rows.values_list("session_key", "session_data"):
            sessions[key] = store().decode(data)
    else:
        for key in keys:
            data = store(session_key=key).load()
            if data:
                sessions[key] = data
    users = {
        user.pk: user
        for user in get_user_model()
        .objects.filter(pk__in={listener.user_pk for listener in listeners}, is_active=True)
        .select_related("profile")
    }
    valid = set()
    for listener in listeners:
        data, user = sessions.get(listener.session_key), users.get(listener.user_pk)
        if data is None or user is None or str(data.get(SESSION_KEY)) != str(user.pk):
            continue
        if not constant_time_compare(str(data.get(HASH_SESSION_KEY) or ""), user.get_session_auth_hash()):
            continue
        stamp = data.get(SESSION_IDENTITY_KEY)
        if stamp is not None and stamp != session_identity(user=user):
            continue
        valid.add(listener)
    return valid


def my_teams(*, user: Actor) -> list:
    """The person's PagerDuty teams (for "my teams" filters); empty when not linked."""
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        return []
    if not profile.pd_user_id:
        return []
    return list(profile.pd_user.teams.all())


def my_team_ids(*, user: Actor) -> list[str]:
    """PagerDuty ids of the person's teams."""
    return [team.pd_id for team in my_teams(user=user)]


def settings_overview(*, user: Actor) -> dict[str, Any]:
    """What the Settings page shows: the account connection, its health, the webhook subscription, the OAuth app."""
    connection = stored_connection() or Connection(pk=1)
    return {
        "connection": connection,
        "mode": connection_mode(),
        "env_api_key": bool(settings.PAGERDUTY_API_TOKEN),
        "oauth_enabled": oauth_enabled(),
        "oauth_scopes": " ".join(settings.PAGERDUTY_OAUTH_SCOPES),
        "client_id": settings.PAGERDUTY_CLIENT_ID,
        "my_grant": OAuthGrant.objects.filter(user=user, revoked_at__isnull=True).first(),
        "api_url": settings.PAGERDUTY_API_URL,
        "webhook_health": health.check("webhook_subscription"),
        "sync_states": sync_states(),
    }


SYNC_LABELS = {"initial_sync": "Full sync", "reconcile": "Reconcile"}


def sync_states() -> list[dict[str, Any]]:
    """The background syncs as the Settings page shows them: status, the step under way, and a percentage."""
    found = {state.name: state for state in SyncState.objects.filter(name__in=SYNC_LABELS)}
    shown = []
    for name, label in SYNC_LABELS.items():
        state = found.get(name)
        where = (state.progress or {}) if state is not None else {}
        percent = None
        if state is not None and state.status == "running" and where.get("count"):
            # Whole steps finished, plus the fraction of the current one (unknown total: none of it yet).
            fraction = where["done"] / where["total"] if where.get("total") else 0.0
            percent = round(100 * (max(where.get("number", 1) - 1, 0) + min(fraction, 1.0)) / where["count"])
        shown.append({"name": name, "label": label, "state": state, "where": where, "percent": percent})
    return shown


def portal_logins_query() -> QuerySet:
    """Local sign-ins (a usable password), with the PagerDuty user each acts as; OAuth-only people are not listed."""
    # Django marks an unusable password with a leading "!" (OAuth sign-ins get one). Anyone who has ever signed
    # in with PagerDuty is left out even with a password: managing it would reach their own PagerDuty grant.
    users = get_user_model().objects.exclude(password__startswith="!").exclude(password="")
    return users.filter(socialaccount__isnull=True).select_related("profile__pd_user")


def portal_logins() -> list[Any]:
    return list(portal_logins_query().order_by("username"))


def portal_login(*, user_id: int) -> Any | None:
    return portal_logins_query().filter(pk=user_id).first()
