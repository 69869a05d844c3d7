"""The Settings page's "Sync now" button: queue a full sync (the sync belongs to incidents, the page to accounts)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.errors import IdentityError
from accounts.roles import admin_required

from . import actions


@admin_required
@require_POST
def sync_start(request: HttpRequest) -> HttpResponse:
    try:
        actions.sync_start(actor=request.user)
    except IdentityError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Full sync queued: its progress shows below.")
    return redirect("accounts:settings")
