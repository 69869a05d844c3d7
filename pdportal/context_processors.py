"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"PORTAL_URL": settings.PORTAL_URL, "PAGERDUTY_API_URL": settings.PAGERDUTY_API_URL}
