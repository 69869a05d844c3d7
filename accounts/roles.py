"""Portal roles derived from the PagerDuty role, the view decorators that enforce them, and their template flags."""

from __future__ import annotations

import enum
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .models import Actor, Profile


class PortalRole(enum.StrEnum):
    ADMIN = "admin"
    RESPONDER = "responder"
    READ_ONLY = "read_only"


PAGERDUTY_ROLES: dict[str, PortalRole] = {
    "owner": PortalRole.ADMIN,
    "admin": PortalRole.ADMIN,
    "user": PortalRole.RESPONDER,
    "limited_user": PortalRole.RESPONDER,
    "observer": PortalRole.READ_ONLY,
    "read_only_user": PortalRole.READ_ONLY,
    "read_only_limited_user": PortalRole.READ_ONLY,
    "restricted_access": PortalRole.READ_ONLY,
}


def role_for_pagerduty_role(pd_role: str | None) -> PortalRole | None:
    """The portal role of a PagerDuty role string; unknown roles get none (least privilege)."""
    return PAGERDUTY_ROLES.get((pd_role or "").strip().lower())


def portal_role(user: Actor) -> PortalRole | None:
    """The person's portal role, or None when anonymous or not linked to a PagerDuty user.

    An unlinked superuser is ADMIN so that the first administrator can connect the portal to PagerDuty.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return None

    role: PortalRole | None = None
    try:
        profile = user.profile
    except Profile.DoesNotExist:
        profile = None
    if profile is not None and profile.pd_user_id:
        role = role_for_pagerduty_role(profile.role or profile.pd_user.role)
    elif getattr(user, "is_superuser", False):
        role = PortalRole.ADMIN
    return role


def can_act(user: Actor) -> bool:
    return portal_role(user) in (PortalRole.RESPONDER, PortalRole.ADMIN)


def is_portal_admin(user: Actor) -> bool:
    return portal_role(user) == PortalRole.ADMIN


def _denied(request: HttpRequest, allowed: tuple[PortalRole, ...]) -> HttpResponse | None:
    if not request.user.is_authenticated:
        if getattr(request, "htmx", False):
            # htmx would swap the sign-in page into a fragment; ask it to navigate instead.
            response = HttpResponse(status=401)
            response["HX-Redirect"] = redirect_to_login(request.get_full_path())["Location"]
            return response
        return redirect_to_login(request.get_full_path())
    role = portal_role(request.user)
    if role is None:
        pd_role = getattr(getattr(request.user, "profile", None), "role", "")
        if getattr(getattr(request.user, "profile", None), "pd_user_id", None) and pd_role:
            raise PermissionDenied(f"Your PagerDuty role ({pd_role}) gives no access to PD Portal.")
        raise PermissionDenied(
            "Your portal account is not linked to a PagerDuty user. Ask a PD Portal admin to link it."
        )
    if role not in allowed:
        if PortalRole.ADMIN in allowed and PortalRole.RESPONDER not in allowed:
            raise PermissionDenied("Only PagerDuty admins and account owners can use this page.")
        raise PermissionDenied("Your PagerDuty role is read-only: you can look, but not act.")
    return None


def _requiring(*allowed: PortalRole):
    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = _denied(request, allowed)
            if refusal is not None:
                return refusal
            return view(request, *args, **kwargs)

        wrapper.portal_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


reader_required = _requiring(PortalRole.ADMIN, PortalRole.RESPONDER, PortalRole.READ_ONLY)
reader_required.__doc__ = "Any signed-in person linked to PagerDuty; anonymous -> sign-in, unlinked -> 403."
responder_required = _requiring(PortalRole.ADMIN, PortalRole.RESPONDER)
responder_required.__doc__ = "Responders and admins (they may act in PagerDuty); read-only -> 403."
admin_required = _requiring(PortalRole.ADMIN)
admin_required.__doc__ = "PagerDuty admins and owners; everyone else -> 403."


def roles(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `can_act` gates action buttons, `is_portal_admin` gates admin links."""
    user = getattr(request, "user", None)
    role = portal_role(user)

    return {
        "pagerduty_signin": bool(settings.PAGERDUTY_CLIENT_ID),
        "portal_role": role,
        "can_act": role in (PortalRole.RESPONDER, PortalRole.ADMIN),
        "is_portal_admin": role == PortalRole.ADMIN,
    }
