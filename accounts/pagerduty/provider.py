"""The PagerDuty provider: id `pagerduty`, uid = PagerDuty user id (+ account subdomain when known)."""

from __future__ import annotations

from urllib.parse import urlparse

from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from django.conf import settings

from .views import PagerDutyOAuth2Adapter


def account_subdomain(data: dict) -> str:
    """The account subdomain: from `subdomains` (include[]=subdomains), else html_url's acme.pagerduty.com."""
    subdomains = data.get("subdomains")
    if isinstance(subdomains, list) and subdomains and isinstance(subdomains[0], str):
        return subdomains[0]
    host = urlparse(str(data.get("html_url") or "")).hostname or ""
    if host.endswith(".pagerduty.com") and host.count(".") >= 2:
        return host.split(".", 1)[0]
    return ""


class PagerDutyAccount(ProviderAccount):
    def get_profile_url(self):
        return self.account.extra_data.get("html_url")

    def get_avatar_url(self):
        return self.account.extra_data.get("avatar_url")

    def to_str(self):
        return self.account.extra_data.get("email") or super().to_str()


class PagerDutyProvider(OAuth2Provider):
    id = "pagerduty"
    name = "PagerDuty"
    account_class = PagerDutyAccount
    oauth2_adapter_class = PagerDutyOAuth2Adapter
    # PKCE (S256) always: a PagerDuty app may be public, and a stolen code must be useless.
    pkce_enabled_default = True

    def get_pkce_params(self) -> dict:

        return generate_code_challenge()

    def get_default_scope(self):
        return list(settings.PAGERDUTY_OAUTH_SCOPES)

    def get_scope(self):
        # From settings at request time (not import time), so the operator's PAGERDUTY_OAUTH_SCOPES always wins.
        return list(settings.PAGERDUTY_OAUTH_SCOPES)

    def get_scope_from_request(self, request):
        # A visitor must not widen the requested scope through ?scope=.
        return self.get_scope()

    def extract_uid(self, data):
        subdomain = account_subdomain(data)
        return f"{subdomain}:{data['id']}" if subdomain else str(data["id"])

    def extract_common_fields(self, data):
        name = str(data.get("name") or "").strip()
        first, _, last = name.partition(" ")
        return {
            "email": data.get("email"),
            "username": (data.get("email") or "").split("@")[0] or None,
            "first_name": first[:150],
            "last_name": last[:150],
            "name": name,
        }

    def extract_extra_data(self, data):
        return dict(data)

    def extract_email_addresses(self, data):
        # None: identity is the PagerDuty user id. An email given to allauth could match, or be matched by, an
        # address somebody else typed into a portal account; the email stays on the User only, for display.
        return []


provider_classes = [PagerDutyProvider]
