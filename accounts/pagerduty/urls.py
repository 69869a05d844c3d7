"""URLs allauth mounts for the provider: /accounts/pagerduty/login/ and /accounts/pagerduty/login/callback/."""

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from .provider import PagerDutyProvider

urlpatterns = default_urlpatterns(PagerDutyProvider)
