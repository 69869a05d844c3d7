"""The /healthz entry for the account connection: its mode and the result of the last check (no PagerDuty call)."""

from __future__ import annotations

from django.http import HttpRequest

from pdportal.health import register, set_detail_gate

from .models import Connection
from .roles import is_portal_admin
from .selectors import connection_mode


def admins_see_details(request: HttpRequest) -> bool:
    """Only a signed-in PagerDuty admin or owner reads /healthz's details; everyone else gets ok or failing."""
    return is_portal_admin(getattr(request, "user", None))


set_detail_gate(admins_see_details)


@register("pagerduty_connection")
def check_pagerduty_connection() -> dict:

    try:
        mode = str(connection_mode())
        connection = Connection.objects.filter(pk=1).first()
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        return {"ok": False, "error": str(exc)}
    if mode == Connection.Mode.NONE:
        return {"ok": False, "mode": mode, "error": "Not connected: set PAGERDUTY_API_TOKEN or connect on /settings/"}
    result: dict = {"ok": connection is None or connection.healthy is not False, "mode": mode}
    if connection is not None and connection.checked_at:
        result["checked_at"] = connection.checked_at.isoformat()
        if connection.last_error:
            result["error"] = connection.last_error
    return result
