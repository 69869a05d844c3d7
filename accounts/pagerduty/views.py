"""OAuth2 adapter for PagerDuty: URLs under PAGERDUTY_OAUTH_URL; token and /users/me via pdportal.pagerduty."""

from __future__ import annotations

from datetime import UTC, datetime

from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2Adapter, OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.http import HttpRequest

from pdportal.pagerduty import OAuthError, PagerDutyClient, PagerDutyError
from pdportal.pagerduty import oauth as pd_oauth


class PagerDutyOAuth2Adapter(OAuth2Adapter):
    provider_id = "pagerduty"
    login_cancelled_error = "access_denied"

    # Read at request time, so tests and operators can point the portal at the sandbox.
    @property
    def authorize_url(self) -> str:
        return f"{settings.PAGERDUTY_OAUTH_URL}/oauth/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{settings.PAGERDUTY_OAUTH_URL}/oauth/token"

    @property
    def profile_url(self) -> str:
        return f"{settings.PAGERDUTY_API_URL}/users/me"

    def get_access_token_data(self, request: HttpRequest, app, client, pkce_code_verifier=None):
        code = request.GET.get("code", "")
        try:
            tokens = pd_oauth.exchange_code(
                oauth_url=settings.PAGERDUTY_OAUTH_URL,
                client_id=app.client_id,
                client_secret=app.secret,
                code=code,
                redirect_uri=client.callback_url,
                code_verifier=pkce_code_verifier or "",
                timeout=settings.PAGERDUTY_TIMEOUT,
                debug=settings.PAGERDUTY_DEBUG,
            )
        except OAuthError as exc:
            raise OAuth2Error(f"PagerDuty refused the sign-in code: {exc}") from exc
        except PagerDutyError as exc:
            raise OAuth2Error(f"Could not reach PagerDuty to finish signing in: {exc}") from exc
        self.did_fetch_access_token = True
        data = dict(tokens.raw)
        data["expires_in"] = max(int((tokens.expires_at - datetime.now(UTC)).total_seconds()), 1)
        data["scope"] = tokens.scope
        return data

    def complete_login(self, request: HttpRequest, app, token, **kwargs):
        client = PagerDutyClient(
            token=token.token,
            auth="bearer",
            api_url=settings.PAGERDUTY_API_URL,
            timeout=settings.PAGERDUTY_TIMEOUT,
            debug=settings.PAGERDUTY_DEBUG,
            max_retries=1,
        )
        try:
            me = client.get_entity("/users/me", params={"include[]": ["teams", "subdomains"]})
        except PagerDutyError as exc:
            raise OAuth2Error(f"PagerDuty did not tell us who you are: {exc}") from exc
        if not isinstance(me, dict) or not me.get("id"):
            raise OAuth2Error("PagerDuty's /users/me answer has no user id")
        response = kwargs.get("response") or {}
        login = self.get_provider().sociallogin_from_response(request, me)
        # Kept on the account so the post-login hook can store the grant and compare scopes.
        login.account.extra_data["_granted_scope"] = str(response.get("scope") or "")
        return login


oauth2_login = OAuth2LoginView.adapter_view(PagerDutyOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(PagerDutyOAuth2Adapter)
