"""A revoked or expired PagerDuty grant sends the person back to sign-in with a message, never a 500."""

from datetime import timedelta

import pytest
import responses
from django.urls import path
from django.utils import timezone

from accounts.clients import pagerduty_client_for, store_grant
from accounts.models import OAuthGrant
from accounts.roles import reader_required
from pdportal.pagerduty.oauth import TokenSet
from pdportal.urls import urlpatterns as portal_urlpatterns

from .conftest import API, OAUTH, as_pagerduty_signin


@reader_required
def incidents_view(request):
    from django.http import JsonResponse

    return JsonResponse(pagerduty_client_for(user=request.user).get("/incidents"))


@reader_required
def careful_view(request):
    """Like the action views: PagerDuty's errors are shown in place."""
    from django.http import HttpResponse

    from pdportal.pagerduty import PagerDutyError

    try:
        pagerduty_client_for(user=request.user).get("/incidents")
    except PagerDutyError as exc:
        return HttpResponse(f"PagerDuty said: {exc}")
    return HttpResponse("ok")


urlpatterns = [path("t/incidents/", incidents_view), path("t/careful/", careful_view), *portal_urlpatterns]


@pytest.fixture
def signed_in(client_as, responder, oauth_app, settings):
    settings.ROOT_URLCONF = __name__
    store_grant(
        user=as_pagerduty_signin(responder),
        token_set=TokenSet(
            access_token="a", refresh_token="r", expires_at=timezone.now() + timedelta(hours=1), scope="read write"
        ),
    )
    return client_as(responder)


@responses.activate
def test_a_token_pagerduty_no_longer_accepts_sends_the_person_to_sign_in(signed_in):
    responses.get(f"{API}/incidents", status=401, json={"error": {"message": "Unauthorized", "code": 2006}})
    response = signed_in.get("/t/incidents/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/t/incidents/")
    assert OAuthGrant.objects.get().revoked_at is not None
    page = signed_in.get(response["Location"]).content.decode()
    assert "PagerDuty no longer accepts your sign-in" in page


@responses.activate
def test_a_view_that_shows_pagerduty_errors_in_place_still_sends_a_dead_grant_to_sign_in(signed_in):
    responses.get(f"{API}/incidents", status=401, json={"error": {"message": "Unauthorized", "code": 2006}})
    response = signed_in.get("/t/careful/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert OAuthGrant.objects.get().revoked_at is not None


@responses.activate
def test_a_refresh_pagerduty_refuses_sends_the_person_to_sign_in(signed_in):
    OAuthGrant.objects.update(expires_at=timezone.now())
    responses.post(f"{OAUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    response = signed_in.get("/t/incidents/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "sign in again" in signed_in.get(response["Location"]).content.decode()


@responses.activate
def test_htmx_requests_are_told_to_navigate_to_sign_in(signed_in):
    OAuthGrant.objects.update(revoked_at=timezone.now())
    response = signed_in.get("/t/incidents/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith("/accounts/login/")


@responses.activate
def test_a_refused_account_key_shows_a_page_for_the_admin_not_a_sign_out(client_as, responder, api_key_mode, settings):
    settings.ROOT_URLCONF = __name__
    responses.get(f"{API}/incidents", status=401, json={"error": {"message": "Unauthorized", "code": 2006}})
    client = client_as(responder)
    response = client.get("/t/incidents/")
    assert response.status_code == 503
    assert "PagerDuty refused PD Portal&#x27;s API key" in response.content.decode()
    assert client.get("/settings/me/").status_code == 200  # still signed in
