"""Writes of the identity layer: finishing a PagerDuty sign-in, linking local users, connections, preferences."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount  # allauth's models load only once apps are ready
from django.conf import settings
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pdportal import crypto
from pdportal.pagerduty import Forbidden, NetworkError, NotFound, PagerDutyError, ServerError
from pdportal.pagerduty import oauth as pd_oauth

from . import audit, clients, selectors
from .errors import IdentityError
from .mirror import upsert_user
from .models import Actor, Connection, OAuthGrant, PagerDutyUser, Profile
from .pagerduty.provider import account_subdomain
from .roles import is_portal_admin

logger = logging.getLogger("pdportal.accounts")

REVOKE_TIMEOUT = 2.5  # seconds per attempt when Disconnect PagerDuty asks PagerDuty to revoke a token


def missing_scopes(*, requested: list[str] | str, granted: str) -> list[str]:
    """Requested scopes PagerDuty did not grant (classic read/write imply every X.read / X.write)."""
    wanted = requested.split() if isinstance(requested, str) else list(requested)
    have = set(granted.split())
    if not have:
        return []  # The server did not say; assume the request was granted.

    def covered(scope: str) -> bool:
        if scope in have:
            return True
        if scope.endswith(".read") and "read" in have:
            return True
        return scope.endswith(".write") and "write" in have

    return [scope for scope in wanted if not covered(scope)]


def mirror_pagerduty_user(*, data: dict[str, Any]) -> PagerDutyUser | None:
    """Upsert the PagerDuty user (and their team references) into the mirror."""
    clean = {k: v for k, v in data.items() if not k.startswith("_")}
    return upsert_user(clean)


def memberships_refresh(*, user) -> bool:
    """Read a portal login's PagerDuty user again, with its teams, through the account connection (at sign-in).

    Team memberships decide what the person sees (accounts.visibility), and PagerDuty sends no webhook when they
    change. A PagerDuty sign-in reads them from /users/me instead (signin_complete). Never raises: the sign-in goes
    on with the mirror as it is, and the periodic refresh (incidents.tasks.refresh_memberships) catches up.
    Returns whether PagerDuty answered.
    """
    profile = Profile.objects.filter(user=user).select_related("pd_user").first()
    if profile is None or profile.pd_user is None:
        return False
    try:
        data = clients.account_client().get_entity(f"/users/{profile.pd_user.pd_id}", {"include[]": ["teams"]})
    except (IdentityError, PagerDutyError) as exc:
        logger.info("Could not read the teams of portal user %s at sign-in: %s", user.pk, exc)
        return False
    with transaction.atomic():
        mirror_pagerduty_user(data=data)
    return True


def profile_link(*, user, pd_user: PagerDutyUser, subdomain: str = "") -> Profile:
    """Point the person's Profile at their PagerDuty user, copying role and (unless they chose one) time zone.

    Linking to another PagerDuty user than before ends every session of this portal user (the session's stamp,
    accounts.selectors.session_identity, includes the linked PagerDuty user).
    """
    profile, _ = Profile.objects.get_or_create(user=user)
    if profile.pd_user_id and profile.pd_user_id != pd_user.pk:
        logger.warning("Portal user %s is relinked from %s to %s", user.pk, profile.pd_user_id, pd_user.pk)
        profile.session_epoch += 1
        clients.sessions_ended_announce(user_pk=user.pk)
    profile.pd_user = pd_user
    profile.role = pd_user.role
    if not profile.time_zone_custom:
        profile.time_zone = pd_user.time_zone
    if subdomain:
        profile.subdomain = subdomain
    profile.save()
    user.profile = profile
    return profile


def signin_refusal(*, data: dict[str, Any]) -> str | None:
    """Why this PagerDuty sign-in must be refused (another PagerDuty account's person), or None to let it in.

    PagerDuty lets other organisations authorise an OAuth app, so a valid sign-in alone does not prove the
    person belongs to this portal's account: check the subdomain, or look them up through the account connection.
    """

    subdomain = account_subdomain(data)
    foreign = (
        f"You signed in as a person of the PagerDuty account “{subdomain or 'unknown'}”, "
        "which is not the account this PD Portal serves."
    )
    if settings.PAGERDUTY_SUBDOMAIN:
        return None if subdomain.lower() == settings.PAGERDUTY_SUBDOMAIN.lower() else foreign
    pd_id, email = str(data.get("id") or ""), str(data.get("email") or "").lower()
    try:
        client = clients.account_client()
    except IdentityError:
        return _refusal_without_connection(pd_id=pd_id, email=email)
    except PagerDutyError as exc:  # refreshing the connection's OAuth token failed
        return f"PD Portal could not check your PagerDuty account ({exc}). Please try again shortly."
    try:
        found = client.get_entity(f"/users/{pd_id}")
    except NotFound:
        return foreign
    except Forbidden:
        return (
            "PD Portal's account connection may not read users, so it cannot check your PagerDuty account. "
            "An admin can set PAGERDUTY_SUBDOMAIN instead."
        )
    except PagerDutyError as exc:
        return f"PD Portal could not check your PagerDuty account ({exc}). Please try again shortly."
    if str(found.get("email") or "").lower() != email:
        return foreign
    return None


def _refusal_without_connection(*, pd_id: str, email: str) -> str | None:
    """With no working account connection to ask, only people the mirror already knows may sign in.

    A fresh portal knows nobody: its first admin to sign in connects it to their account. Once the mirror holds
    an account's people, a disconnected portal must not be connected to another account by a stranger.
    """
    known = PagerDutyUser.objects.filter(pd_id=pd_id, email__iexact=email).exists() if pd_id and email else False
    if known or not PagerDutyUser.objects.exists():
        return None
    return (
        "PD Portal cannot check your PagerDuty account now: its account connection is missing or needs an admin's "
        "attention. An admin can sign in with a portal login, or set PAGERDUTY_SUBDOMAIN."
    )


def signin_binding_refusal(*, sociallogin) -> str | None:
    """Why this PagerDuty sign-in must not enter the portal user allauth found for it, or None.

    A PagerDuty sign-in enters only the portal user whose SocialAccount carries the same PagerDuty user id (as
    PagerDuty's /users/me reported it for the token), or a brand-new one. Never an existing local account found
    any other way (an email somebody typed), and never one that also signs in with a password.
    """

    pd_id = str((sociallogin.account.extra_data or {}).get("id") or "")
    refused = "This PagerDuty sign-in does not belong to the portal account it would enter. Ask a PD Portal admin."
    if not pd_id or sociallogin.account.uid.rsplit(":", 1)[-1] != pd_id:
        return refused
    user = sociallogin.user
    if user is None or user.pk is None:
        return None  # a new portal user, made for this PagerDuty user only
    bound = SocialAccount.objects.filter(provider=sociallogin.account.provider, uid=sociallogin.account.uid, user=user)
    if not bound.exists() or user.has_usable_password():
        return refused
    return None


def session_bind(*, request, user) -> None:
    """Stamp the session with who it acts as; accounts.middleware ends it once the stamp no longer matches."""
    if hasattr(request, "session"):
        # From the database, not a profile cached on this user object: an epoch raised meanwhile must count.
        fresh = type(user).objects.select_related("profile").get(pk=user.pk)
        request.session[selectors.SESSION_IDENTITY_KEY] = selectors.session_identity(user=fresh)


def sessions_end(*, user) -> None:
    """End every session of this person at its next request (each compares its stamp with the profile's epoch)."""
    Profile.objects.get_or_create(user=user)
    Profile.objects.filter(user=user).update(session_epoch=F("session_epoch") + 1)
    clients.sessions_ended_announce(user_pk=user.pk)


def signin_complete(*, request, user, sociallogin) -> list[str]:
    """After a PagerDuty sign-in: mirror the user, link the profile, store the grant; returns missing scopes.

    The portal user is the one bound to this PagerDuty user id (accounts.adapter refused anything else); checked
    again here, because storing a grant on the wrong portal user hands that person's PagerDuty identity over.
    """

    data = dict(sociallogin.account.extra_data or {})
    granted = str(data.pop("_granted_scope", "") or "")
    requested = " ".join(settings.PAGERDUTY_OAUTH_SCOPES)
    if signin_binding_refusal(sociallogin=sociallogin) is not None:
        logout(request)
        raise PermissionDenied("This PagerDuty sign-in is not bound to this portal account.")
    with transaction.atomic():
        pd_user = mirror_pagerduty_user(data=data)
        if pd_user is not None:
            profile_link(user=user, pd_user=pd_user, subdomain=account_subdomain(data))
        # Keep the person's Django name and email in step with PagerDuty (display only: never used to bind).
        name = str(data.get("name") or "")
        first, _, last = name.partition(" ")
        changed = False
        for field, value in (("first_name", first[:150]), ("last_name", last[:150]), ("email", data.get("email"))):
            if value and getattr(user, field) != value:
                setattr(user, field, value)
                changed = True
        if changed:
            user.save(update_fields=["first_name", "last_name", "email"])
        token = sociallogin.token
        if token is not None and token.token:
            expires_at = token.expires_at or timezone.now() + timezone.timedelta(seconds=pd_oauth.DEFAULT_EXPIRES_IN)
            clients.store_grant(
                user=user,
                token_set=pd_oauth.TokenSet(
                    access_token=token.token,
                    refresh_token=token.token_secret or None,
                    expires_at=expires_at,
                    scope=granted,
                ),
                requested_scope=requested,
            )
        _connect_first_admin(user=user)
    session_bind(request=request, user=user)
    return missing_scopes(requested=requested, granted=granted)


class NothingToDisconnect(Exception):
    """The person holds no PagerDuty grant here (a portal login, or already disconnected)."""


@dataclass(frozen=True)
class Disconnected:
    """What Disconnect PagerDuty did: `failure` is why PagerDuty did not confirm the revocation ("" if it did)."""

    failure: str
    # The account connection used this person's grant: background jobs stop until an admin reconnects.
    was_account_connection: bool


def pagerduty_disconnect(*, user) -> Disconnected:
    """Revoke the person's grant at PagerDuty, delete the stored tokens, end every session of theirs; audited.

    The tokens are deleted here even when PagerDuty cannot confirm the revocation, so nothing in the portal can
    use them again. Raises NothingToDisconnect when there is no grant.
    """
    grant = OAuthGrant.objects.filter(user=user).first()
    if grant is None:
        raise NothingToDisconnect("You have no PagerDuty sign-in stored here.")
    to_revoke = []
    for field in ("refresh_token", "access_token"):  # the refresh token first: it ends the whole grant
        try:
            value = crypto.decrypt(getattr(grant, field)) if getattr(grant, field) else ""
        except ValueError:
            value = ""  # encrypted with a removed key: unusable here, and PagerDuty expires it
        if value:
            to_revoke.append((value, field))
    status: int | None = None
    failure = ""
    # Outside any transaction: PagerDuty is called first, then the tokens are deleted whatever it answered.
    for value, hint in to_revoke:
        try:
            status = pd_oauth.revoke(
                oauth_url=settings.PAGERDUTY_OAUTH_URL,
                client_id=settings.PAGERDUTY_CLIENT_ID,
                client_secret=settings.PAGERDUTY_CLIENT_SECRET,
                token=value,
                token_type_hint=hint,
                # Short: the person waits on this page (the request deadline is about 8 s).
                timeout=min(settings.PAGERDUTY_TIMEOUT, REVOKE_TIMEOUT),
                max_retries=1,
                debug=settings.PAGERDUTY_DEBUG,
            )
        except (NetworkError, ServerError) as exc:
            status, failure = exc.status, failure or str(exc) or type(exc).__name__
            break  # unreachable or failing: asking again for the other token would only double the wait
        except PagerDutyError as exc:
            status, failure = exc.status, failure or str(exc) or type(exc).__name__
    with transaction.atomic():
        OAuthGrant.objects.filter(pk=grant.pk).delete()
        sessions_end(user=user)
        audit.record_local(
            actor=user,
            operation="Disconnect PagerDuty",
            target=user.get_username(),
            method="POST",
            path="/oauth/revoke",
            url=f"{settings.PAGERDUTY_OAUTH_URL.rstrip('/')}/oauth/revoke",
            status=status,
            error=failure,
        )
    logger.info("PagerDuty disconnected by %s (revoke status %s)", user.pk, status)
    was_connection = Connection.objects.filter(pk=1, mode=Connection.Mode.OAUTH, oauth_user=user).exists()
    return Disconnected(failure=failure, was_account_connection=was_connection)


def _connect_first_admin(*, user) -> None:
    """With no API key and no connection yet, the first admin to sign in connects the portal for background jobs."""

    if settings.PAGERDUTY_API_TOKEN or not is_portal_admin(user):
        return
    connection = Connection.load()
    if connection.mode != Connection.Mode.NONE:
        return
    connection.mode = Connection.Mode.OAUTH
    connection.oauth_user = user
    connection.created_by = user
    connection.save()


def connection_use_api_key(*, actor: Actor, api_key: str) -> Connection:
    """Store an account API key (encrypted) as the account connection, after checking it with PagerDuty."""
    connection = Connection.load()
    connection.mode = Connection.Mode.API_KEY
    connection.api_key = crypto.encrypt(api_key.strip())
    connection.created_by = actor
    connection.save()
    audit.record_local(actor=actor, operation="Connect with an API key", target="account connection")
    connection_check(connection=connection)
    return connection


def connection_use_oauth(*, actor: Actor) -> Connection:
    """Use the acting admin's own PagerDuty grant for background jobs."""
    connection = Connection.load()
    connection.mode = Connection.Mode.OAUTH
    connection.oauth_user = actor
    connection.api_key = ""
    connection.created_by = actor
    connection.save()
    audit.record_local(actor=actor, operation="Connect with own PagerDuty sign-in", target="account connection")
    connection_check(connection=connection)
    return connection


def connection_disconnect(*, actor: Actor) -> Connection:
    connection = Connection.load()
    connection.mode = Connection.Mode.NONE
    connection.api_key = ""
    connection.oauth_user = None
    connection.created_by = actor
    connection.healthy = None
    connection.last_error = ""
    connection.save()
    audit.record_local(actor=actor, operation="Remove the stored connection", target="account connection")
    return connection


def connection_check(*, connection: Connection | None = None) -> Connection:
    """Health check of the account connection (GET /abilities, which any valid key may call); stores the result."""

    connection = connection or Connection.load()
    try:
        client = clients.account_client()
        client.get("/abilities", max_retries=0)
    except (PagerDutyError, IdentityError) as exc:
        connection.healthy = False
        connection.last_error = str(exc)[:2000]
    else:
        connection.healthy = True
        connection.last_error = ""
    connection.checked_at = timezone.now()
    connection.save(update_fields=["healthy", "last_error", "checked_at", "updated_at"])
    return connection


def pagerduty_user_by_email(*, email: str) -> PagerDutyUser:
    """The PagerDuty user with this email: from the mirror, or from PagerDuty through the account connection.

    Raises ValueError when no PagerDuty user has it.
    """
    pd_user = PagerDutyUser.objects.filter(email__iexact=email).first()
    if pd_user is not None:
        return pd_user
    client = clients.account_client()
    found = [u for u in client.list_all("/users", {"query": email}) if str(u.get("email", "")).lower() == email.lower()]
    if not found:
        raise ValueError(f"No PagerDuty user has the email {email}")
    return mirror_pagerduty_user(data=found[0])


def portal_user_create(
    *,
    email: str,
    password: str,
    username: str | None = None,
    is_staff: bool = False,
    pd_user: PagerDutyUser | None = None,
):
    """Create (or update) a local portal login linked by email to the PagerDuty user with that email.

    The PagerDuty user is `pd_user` when the caller already found it, else it comes from the mirror, or from
    PagerDuty through the account connection when not mirrored. Raises ValueError when no PagerDuty user has it.
    """

    email = email.strip()
    pd_user = pd_user or pagerduty_user_by_email(email=email)
    User = get_user_model()
    with transaction.atomic():
        # Only an existing portal login is updated: a PagerDuty sign-in with this email never gets a password.
        user = User.objects.filter(email__iexact=email, socialaccount__isnull=True).first()
        if user is None:
            base = username or email.split("@")[0]
            candidate, n = base, 1
            while User.objects.filter(username=candidate).exists():
                n += 1
                candidate = f"{base}{n}"
            user = User(username=candidate, email=email)
        name = pd_user.name or ""
        first, _, last = name.partition(" ")
        user.first_name, user.last_name = first[:150], last[:150]
        user.is_staff = user.is_staff or is_staff
        user.set_password(password)
        user.save()
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        profile_link(user=user, pd_user=pd_user)
    return user


class LoginRefused(Exception):
    """A change to a portal login that the portal itself refuses (the message says why)."""


def portal_login_create(*, actor: Actor, email: str, password: str):
    """An admin creates a local login for the PagerDuty user with this email (API-key mode sign-in)."""

    existing = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if existing is not None and SocialAccount.objects.filter(user=existing).exists():
        # A password on it would let whoever knows the password act with that person's own PagerDuty sign-in.
        raise LoginRefused(f"{existing.username} signs in with PagerDuty; a portal login cannot be added to it.")
    if existing is not None:
        raise LoginRefused(
            f"{existing.username} already signs in with {email}; set a new password on its page instead."
        )
    pd_user = pagerduty_user_by_email(email=email.strip())
    if pd_user.role == "owner" and _role_of(actor) != "owner":
        raise LoginRefused("Only the PagerDuty account owner may give the owner a portal login.")
    user = portal_user_create(email=email, password=password, pd_user=pd_user)
    audit.record_local(actor=actor, operation="Create portal login", target=user.get_username())
    return user


def _role_of(user) -> str:
    return Profile.objects.filter(user=user).values_list("role", flat=True).first() or ""


def _check_may_manage(*, actor: Actor, login: AbstractBaseUser) -> None:
    if _role_of(login) == "owner" and _role_of(actor) != "owner":
        raise LoginRefused("Only the PagerDuty account owner may change the owner's portal login.")


def portal_login_set_password(*, actor: Actor, user: AbstractBaseUser, password: str) -> None:
    _check_may_manage(actor=actor, login=user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record_local(actor=actor, operation="Set portal login password", target=user.get_username())


def portal_login_set_active(*, actor: Actor, user: AbstractBaseUser, active: bool) -> None:
    """Switch a login off or on. A switched-off login is signed out at its next request and cannot sign in."""
    if not active and user.pk == actor.pk:
        raise LoginRefused("You cannot switch off your own login.")
    _check_may_manage(actor=actor, login=user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        # Its open sessions end now and stay ended if it is switched on again.
        sessions_end(user=user)
    operation = "Switch on portal login" if active else "Switch off portal login"
    audit.record_local(actor=actor, operation=operation, target=user.get_username())


def preferences_update(*, user, time_zone: str, notify_desktop: bool, theme: str = "") -> Profile:
    """Save one person's zone, desktop notifications and theme ("" follows the system, or "light"/"dark")."""
    profile, _ = Profile.objects.get_or_create(user=user)
    default_zone = profile.pd_user.time_zone if profile.pd_user_id else ""
    profile.time_zone = time_zone or default_zone
    profile.time_zone_custom = bool(time_zone) and time_zone != default_zone
    profile.notify_desktop = notify_desktop
    profile.theme = theme if theme in ("light", "dark") else ""
    profile.save(update_fields=["time_zone", "time_zone_custom", "notify_desktop", "theme"])
    return profile
