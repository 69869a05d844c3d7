"""Settings pages: the account connection (admins) and personal preferences (everyone signed in)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from pdportal.pagerduty import PagerDutyError

from . import actions, selectors
from .errors import IdentityError
from .forms import ApiKeyForm, NewPasswordForm, PortalLoginForm, PreferencesForm
from .models import OAuthGrant, Profile
from .roles import admin_required


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = actions.connection_use_api_key(actor=request.user, api_key=form.cleaned_data["api_key"])
        if connection.healthy:
            messages.success(request, "PD Portal now uses this API key for background work. PagerDuty accepted it.")
        else:
            messages.warning(request, f"The API key is stored, but PagerDuty refused it: {connection.last_error}")
        return redirect("accounts:settings")
    if request.GET.get("partial") == "sync-progress":
        context = {"sync_states": selectors.sync_states(), "mode": selectors.connection_mode()}
        return render(request, "accounts/settings.html#sync-progress", context)
    context = selectors.settings_overview(user=request.user)
    context["form"] = form
    return render(request, "accounts/settings.html", context, status=400 if form.errors else 200)


@admin_required
@require_POST
def connection_oauth(request: HttpRequest) -> HttpResponse:
    if not OAuthGrant.objects.filter(user=request.user, revoked_at__isnull=True).exists():
        messages.error(request, "Sign in with PagerDuty first: background jobs would use your PagerDuty grant.")
        return redirect("accounts:settings")
    connection = actions.connection_use_oauth(actor=request.user)
    if connection.healthy:
        messages.success(request, "Background jobs now use your PagerDuty sign-in.")
    else:
        messages.warning(request, f"Connected, but PagerDuty refused the check: {connection.last_error}")
    return redirect("accounts:settings")


@admin_required
@require_POST
def connection_check(request: HttpRequest) -> HttpResponse:
    connection = actions.connection_check()
    if connection.healthy:
        messages.success(request, "PagerDuty accepted the account connection.")
    else:
        messages.error(request, f"The account connection does not work: {connection.last_error}")
    return redirect("accounts:settings")


@admin_required
@require_POST
def connection_disconnect(request: HttpRequest) -> HttpResponse:
    actions.connection_disconnect(actor=request.user)
    messages.success(request, "The stored account connection was removed.")
    return redirect("accounts:settings")


@login_required
@require_http_methods(["GET", "POST"])
def preferences_page(request: HttpRequest) -> HttpResponse:
    profile, _ = Profile.objects.select_related("pd_user").get_or_create(user=request.user)
    default_zone = profile.pd_user.time_zone if profile.pd_user_id else ""
    initial = {
        "time_zone": profile.time_zone if profile.time_zone_custom else "",
        "notify_desktop": profile.notify_desktop,
        "theme": profile.theme,
    }
    form = PreferencesForm(request.POST or None, initial=initial, default_zone=default_zone)
    if request.method == "POST" and form.is_valid():
        actions.preferences_update(
            user=request.user,
            time_zone=form.cleaned_data["time_zone"],
            notify_desktop=form.cleaned_data["notify_desktop"],
            theme=form.cleaned_data["theme"],
        )
        messages.success(request, "Your preferences are saved.")
        return redirect("accounts:preferences")
    context = {
        "form": form,
        "profile": profile,
        "teams": selectors.my_teams(user=request.user),
        "grant": OAuthGrant.objects.filter(user=request.user).first(),
        "default_zone": default_zone or "UTC",
    }
    return render(request, "accounts/preferences.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def pagerduty_disconnect(request: HttpRequest) -> HttpResponse:
    """Disconnect PagerDuty: revoke the grant there, forget the tokens here, sign out everywhere."""
    try:
        done = actions.pagerduty_disconnect(user=request.user)
    except actions.NothingToDisconnect as exc:
        messages.error(request, str(exc))
        return redirect("accounts:preferences")
    logout(request)
    if done.failure:
        messages.warning(
            request,
            "PD Portal deleted your PagerDuty tokens and signed you out everywhere, but PagerDuty did not confirm "
            f"the revocation ({done.failure}). You can also remove PD Portal from your PagerDuty profile's apps.",
        )
    else:
        messages.success(request, "PagerDuty is disconnected: your grant is revoked and you are signed out everywhere.")
    if done.was_account_connection:
        messages.warning(
            request,
            "Background sync used your PagerDuty sign-in: it stops until an admin connects PD Portal again "
            "in Settings.",
        )
    return redirect("account_login")


@admin_required
@require_http_methods(["GET", "POST"])
def logins_page(request: HttpRequest) -> HttpResponse:
    form = PortalLoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.portal_login_create(
                actor=request.user, email=form.cleaned_data["email"], password=form.cleaned_data["password1"]
            )
        except (actions.LoginRefused, ValueError, IdentityError, PagerDutyError) as exc:
            form.add_error("email", str(exc))
        else:
            pd_user = user.profile.pd_user
            messages.success(request, f"{user.username} can now sign in, acting as {pd_user.name} ({pd_user.role}).")
            return redirect("accounts:logins")
    context = {"form": form, "logins": selectors.portal_logins()}
    return render(request, "accounts/logins.html", context, status=400 if form.errors else 200)


def _login_or_404(user_id: int):
    user = selectors.portal_login(user_id=user_id)
    if user is None:
        raise Http404("No portal login with this id.")
    return user


@admin_required
@require_http_methods(["GET", "POST"])
def login_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    login = _login_or_404(user_id)
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.portal_login_set_password(actor=request.user, user=login, password=form.cleaned_data["password1"])
        except actions.LoginRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"New password set for {login.username}.")
            return redirect("accounts:logins")
    context = {"login": login, "form": form}
    return render(request, "accounts/login_detail.html", context, status=400 if form.errors else 200)


@admin_required
@require_POST
def login_active(request: HttpRequest, user_id: int) -> HttpResponse:
    login = _login_or_404(user_id)
    active = request.POST.get("active") == "1"
    try:
        actions.portal_login_set_active(actor=request.user, user=login, active=active)
    except actions.LoginRefused as exc:
        messages.error(request, str(exc))
    else:
        state = "can sign in again" if active else "is switched off and signed out"
        messages.success(request, f"{login.username} {state}.")
    return redirect("accounts:login_detail", user_id=login.pk)
