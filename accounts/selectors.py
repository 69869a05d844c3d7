"""Reads of the identity layer: whose PagerDuty credentials to use for a person or a background job."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings

from pdportal import crypto
from pdportal.pagerduty import EventsClient, PagerDutyClient, RequestBudget, Unauthorized, budget_for
from pdportal.pagerduty.budget import SharedWindow, token_key

from . import tokens
from .errors import NoAccountConnection, NotLinked, ReauthenticationRequired
from .models import AuditEntry, Connection, OAuthGrant, Profile
from .signals import write_outcome_unknown

_ID = re.compile(r"^[A-Z0-9]{5,}$")


def describe_write(method: str, path: str) -> tuple[str, str]:
    """(operation, target) of a write: "PUT /incidents/{id}" and the last PagerDuty id in the path."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    target = ""
    shape = []
    for segment in segments:
        if _ID.match(segment):
            target = segment
            shape.append("{id}")
        else:
            shape.append(segment)
    return f"{method} /{'/'.join(shape)}", target


_INCIDENT_CHANGES = (
    ("escalation_level", "Escalated"),
    ("assignments", "Reassigned"),
    ("escalation_policy", "Reassigned"),
    ("priority", "Set the priority of"),
    ("urgency", "Set the urgency of"),
    ("service", "Moved"),
    ("title", "Renamed"),
)
_STATUS_DONE = {"resolved": "Resolved", "acknowledged": "Acknowledged", "triggered": "Re-triggered"}
_INCIDENT_SUBPATHS = {
    ("POST", "notes"): "Added a note to",
    ("POST", "snooze"): "Snoozed",
    ("PUT", "merge"): "Merged incidents into",
    ("POST", "status_updates"): "Published a status update on",
    ("POST", "responder_requests"): "Requested responders for",
    ("PUT", "alerts"): "Changed the alerts of",
}
_VERBS = {"POST": "Created", "PUT": "Updated", "PATCH": "Updated", "DELETE": "Deleted"}


def _incident_change(*, change: Any) -> str:
    if not isinstance(change, dict):
        return "Updated"
    if change.get("status") in _STATUS_DONE:
        return _STATUS_DONE[change["status"]]
    return next((words for key, words in _INCIDENT_CHANGES if key in change), "Updated")


def describe_action(*, method: str, shape: str, body: Any) -> str:
    """A write in words, completed by its target: "Resolved", "Added a note to", "Resolved 3 incidents"."""
    parts = [p for p in shape.split(" ", 1)[-1].split("/") if p]
    method = method.upper()
    if parts[:1] == ["incidents"]:
        if len(parts) == 1 and method == "POST":
            return "Created an incident"
        if len(parts) == 1 and method == "PUT":
            changes = body.get("incidents") if isinstance(body, dict) else None
            changes = changes if isinstance(changes, list) else []
            words = {_incident_change(change=c) for c in changes}
            verb = words.pop() if len(words) == 1 else "Updated"
            return f"{verb} {len(changes)} incident{'s' if len(changes) != 1 else ''}"
        if len(parts) == 2 and method == "PUT":
            return _incident_change(change=body.get("incident") if isinstance(body, dict) else None)
        if len(parts) >= 3:
            return _INCIDENT_SUBPATHS.get(
                (method, parts[2]), f"{_VERBS.get(method, method)} {parts[2].replace('_', ' ')} of"
            )
    if parts[:2] == ["v2", "enqueue"]:
        return "Sent an event"
    if parts[:2] == ["v2", "change"]:
        return "Sent a change event"
    if not parts:
        return ""
    noun = parts[0].replace("_", " ")
    noun = noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
    if len(parts) == 1:
        return f"{_VERBS.get(method, method)} a {noun}"
    if len(parts) >= 3 and parts[1] == "{id}":
        return f"{parts[2].replace('_', ' ').capitalize()} on {noun}"
    return f"{_VERBS.get(method, method)} {noun}"


def audit_label(user: Any | None) -> str:
    """Who an audit entry names: the person's email (or login), or the portal itself for background work."""
    return (getattr(user, "email", "") or user.get_username()) if user is not None else "PD Portal (background)"


def audit_recorder(*, user: Any | None, operation: str = "") -> Callable[[dict[str, Any]], None]:
    """The client's on_write callback: one AuditEntry per write, successful or not."""
    label = audit_label(user)

    def record(write: dict[str, Any]) -> None:
        method = write.get("method") or ""
        path = write.get("path") or ""
        derived, target = describe_write(method, path)
        error = ""
        if write.get("error_message"):
            error = str(write["error_message"])
            if write.get("error_code") is not None:
                error = f"{error} ({write['error_code']})"
        unknown = bool(write.get("outcome_unknown"))
        entry = AuditEntry.objects.create(
            actor=user,
            actor_label=label[:255],
            operation=(operation or derived)[:128],
            method=method[:8],
            path=path[:512],
            url=str(write.get("url") or ""),
            target=target[:255],
            action="" if operation else describe_action(method=method, shape=derived, body=write.get("body"))[:160],
            status=write.get("status"),
            error=error,
            duration_ms=int(write.get("duration_ms") or 0),
            outcome="unknown" if unknown else "",
            # Kept only for incident writes, the ones a refetch can check (nothing else a body holds is stored).
            intent=write.get("intent") if unknown and path.startswith("/incidents") else None,
        )
        if unknown:
            write_outcome_unknown.send(sender=AuditEntry, entry=entry)

    return record


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
                tokens.revoke_grant(grant=grant, reason=str(exc))
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
        from pdportal.redis import get_redis

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


def stored_connection() -> Connection | None:
    return Connection.objects.filter(pk=1).select_related("oauth_user").first()


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


def pagerduty_email(*, user: Any) -> str | None:
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        return None
    if profile.pd_user_id and profile.pd_user.email:
        return profile.pd_user.email
    return None


SESSION_IDENTITY_KEY = "pdportal_identity"


def session_identity(*, user: Any) -> str:
    """The stamp a session of this person carries: the PagerDuty user it acts as, and the profile's epoch.

    accounts.middleware ends a session whose stamp differs: the person was relinked, switched off or disconnected.
    """
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        return "none:0"
    return f"{profile.pd_user_id or 'none'}:{profile.session_epoch}"


def pagerduty_client_for(*, user: Any, operation: str = "") -> PagerDutyClient:
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
        token = tokens.access_token_for(grant=grant)
        return _client(token=token, auth="bearer", from_email=email, on_write=on_write, grant_id=grant.pk)
    key = api_key()
    if key:
        if not email:
            raise NotLinked()
        return _client(token=key, auth="token", from_email=email, on_write=on_write)
    if oauth_enabled():
        raise ReauthenticationRequired("Sign in with PagerDuty to act in PagerDuty.")
    raise NoAccountConnection()


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
            token = tokens.access_token_for(grant=grant)
        except ReauthenticationRequired:
            raise NoAccountConnection(
                "The PagerDuty grant of the admin who connected PD Portal was revoked or expired; an admin must "
                "reconnect on the Settings page (/settings/)."
            ) from None
        email = pagerduty_email(user=connection.oauth_user)
        return _client(token=token, auth="bearer", from_email=email, on_write=on_write)
    raise NoAccountConnection()


def events_client(*, user: Any | None = None) -> EventsClient:
    """Events API v2 client (routing keys authenticate each event; no REST token involved).

    Each event sent is audited under `user` (None: the portal itself), like a REST write.
    """
    return EventsClient(
        events_url=settings.PAGERDUTY_EVENTS_URL,
        debug=settings.PAGERDUTY_DEBUG,
        timeout=settings.PAGERDUTY_TIMEOUT,
        on_write=audit_recorder(user=user),
    )


def my_teams(*, user: Any) -> list:
    """The person's PagerDuty teams (for "my teams" filters); empty when not linked."""
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        return []
    if not profile.pd_user_id:
        return []
    return list(profile.pd_user.teams.all())


def my_team_ids(*, user: Any) -> list[str]:
    """PagerDuty ids of the person's teams."""
    return [team.pd_id for team in my_teams(user=user)]


def settings_overview(*, user: Any) -> dict[str, Any]:
    """What the Settings page shows: the account connection, its health, the webhook subscription, the OAuth app."""
    # Imported here: incidents depends on accounts, not the other way round at import time.
    from incidents.webhooks import check_webhook_subscription

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
        "webhook_health": check_webhook_subscription(),
        "sync_states": sync_states(),
    }


SYNC_LABELS = {"initial_sync": "Full sync", "reconcile": "Reconcile"}


def sync_states() -> list[dict[str, Any]]:
    """The background syncs as the Settings page shows them: status, the step under way, and a percentage."""
    from pdportal.models import SyncState

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


def portal_logins_query():
    """Local sign-ins (a usable password), with the PagerDuty user each acts as; OAuth-only people are not listed."""
    from django.contrib.auth import get_user_model

    # Django marks an unusable password with a leading "!" (OAuth sign-ins get one). Anyone who has ever signed
    # in with PagerDuty is left out even with a password: managing it would reach their own PagerDuty grant.
    users = get_user_model().objects.exclude(password__startswith="!").exclude(password="")
    return users.filter(socialaccount__isnull=True).select_related("profile__pd_user")


def portal_logins() -> list[Any]:
    return list(portal_logins_query().order_by("username"))


def portal_login(*, user_id: int) -> Any | None:
    return portal_logins_query().filter(pk=user_id).first()
