"""`safe_link`: only http(s) and mailto URLs from PagerDuty data become links; anything else renders as text."""

from __future__ import annotations

from typing import Any

from django import template

from pdportal.web import safe_link_url

register = template.Library()


@register.filter
def safe_link(value: Any) -> str:
    """The URL when a browser would open it as http(s) or mailto, else "" (use `{% if %}` to fall back to text)."""
    return safe_link_url(value)
