"""Every admin page refuses responders and observers (403) and sends anonymous visitors to sign in."""

from __future__ import annotations

import pytest

ADMIN_PAGES = [
    ("GET", "/services/"),
    ("GET", "/services/new/"),
    ("POST", "/services/new/"),
    ("GET", "/services/PSVC001/"),
    ("GET", "/services/PSVC001/edit/"),
    ("POST", "/services/PSVC001/edit/"),
    ("GET", "/services/PSVC001/delete/"),
    ("POST", "/services/PSVC001/delete/"),
    ("GET", "/webhooks/"),
    ("GET", "/webhooks/new/"),
    ("POST", "/webhooks/new/"),
    ("GET", "/webhooks/remove-portal/"),
    ("POST", "/webhooks/remove-portal/"),
    ("GET", "/webhooks/PSUB001/"),
    ("GET", "/webhooks/PSUB001/edit/"),
    ("POST", "/webhooks/PSUB001/edit/"),
    ("POST", "/webhooks/PSUB001/enable/"),
    ("POST", "/webhooks/PSUB001/ping/"),
    ("GET", "/webhooks/PSUB001/delete/"),
    ("POST", "/webhooks/PSUB001/delete/"),
    ("GET", "/users/"),
    ("GET", "/users/new/"),
    ("POST", "/users/new/"),
    ("GET", "/users/PUSR001/"),
    ("GET", "/users/PUSR001/edit/"),
    ("POST", "/users/PUSR001/edit/"),
    ("GET", "/users/PUSR001/delete/"),
    ("POST", "/users/PUSR001/delete/"),
    ("GET", "/templates/"),
    ("GET", "/templates/new/"),
    ("POST", "/templates/new/"),
    ("GET", "/templates/PTPL001/edit/"),
    ("POST", "/templates/PTPL001/edit/"),
    ("GET", "/templates/PTPL001/delete/"),
    ("POST", "/templates/PTPL001/delete/"),
    ("GET", "/templates/PTPL001/preview/"),
    ("POST", "/templates/PTPL001/preview/"),
    ("GET", "/api-console/"),
    ("POST", "/api-console/"),
    ("GET", "/api-console/download/somekey/"),
    ("GET", "/audit/"),
    ("GET", "/audit/?format=csv"),
    ("GET", "/settings/"),
    ("POST", "/settings/"),
    ("POST", "/settings/connection/oauth/"),
    ("POST", "/settings/connection/check/"),
    ("POST", "/settings/connection/disconnect/"),
    ("GET", "/settings/logins/"),
    ("POST", "/settings/logins/"),
    ("GET", "/settings/logins/1/"),
    ("POST", "/settings/logins/1/"),
    ("POST", "/settings/logins/1/active/"),
]

# Views open without a portal role, each for its own reason.
UNGUARDED = {
    "accounts.views.preferences_page": "any signed-in person's own settings (login_required)",
    "accounts.views.pagerduty_disconnect": "any signed-in person's own PagerDuty grant (login_required)",
    "incidents.live_views.pagerduty_webhook": "PagerDuty's webhooks, authenticated by signature",
    "pdportal.views.healthz": "the health check",
    "pdportal.live.stream": "checks sign-in and the PagerDuty link itself (async)",
}


@pytest.fixture(autouse=True)
def _no_pagerduty(responses):
    """Nothing here may reach PagerDuty: `responses` fails any request it was not told about."""
    return responses


@pytest.fixture
def responses():
    import responses as responses_lib

    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.mark.parametrize("persona", ["responder", "observer"])
@pytest.mark.parametrize(("method", "url"), ADMIN_PAGES)
def test_it_forbids_non_admins(request, client_as, persona, method, url):
    client = client_as(request.getfixturevalue(persona))

    response = client.get(url) if method == "GET" else client.post(url, {"name": "x"})

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url"), ADMIN_PAGES)
def test_it_sends_anonymous_visitors_to_sign_in(db, client, method, url):
    response = client.get(url) if method == "GET" else client.post(url, {})

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_shows_admin_links_only_to_admins(admin, responder, client_as, settings, api_key_mode):
    admin_page = client_as(admin).get("/audit/").content.decode()
    responder_page = client_as(responder).get("/").content.decode()

    for link in ("/services/", "/users/", "/templates/", "/webhooks/", "/api-console/", "/audit/"):
        assert f'href="{link}"' in admin_page
        assert f'href="{link}"' not in responder_page


def _our_views():
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    for route, view in walk(get_resolver().url_patterns):
        module = getattr(view, "__module__", "")
        if module.split(".")[0] in {"accounts", "incidents", "services", "console", "pdportal"}:
            yield route, f"{module}.{view.__name__}", view


def test_every_portal_view_names_the_role_it_needs():
    # A new view without reader_required/responder_required/admin_required would be open to any visitor.
    views = list(_our_views())
    assert len(views) > 40
    unguarded = {name for _, name, view in views if getattr(view, "portal_roles", None) is None}
    assert unguarded == set(UNGUARDED)
