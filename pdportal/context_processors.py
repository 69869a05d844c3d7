"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    # Without webhooks the mirror is as fresh as the last read of PagerDuty's log: the header says so.
    live_label = "" if settings.PAGERDUTY_WEBHOOKS else f"live via PagerDuty's log every {settings.RECONCILE_SECONDS} s"
    return {
        "PORTAL_URL": settings.PORTAL_URL,
        "PAGERDUTY_API_URL": settings.PAGERDUTY_API_URL,
        "LIVE_LABEL": live_label,
        # The page's freshness marker expects a heartbeat this often (pdportal/live.py sends it).
        "LIVE_HEARTBEAT_SECONDS": settings.LIVE_HEARTBEAT_SECONDS,
    }
