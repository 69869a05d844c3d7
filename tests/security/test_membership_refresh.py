"""Review of issue 11: a person removed from a private team stops seeing its incidents at their next sign-in
(password or PagerDuty) and, while signed in, at the next periodic membership refresh, not a day later."""

from __future__ import annotations

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import PagerDutyUser, Profile, Team
from incidents.models import Incident
from services.models import Service
from tests.personas import PASSWORD, make_portal_user

from .signin_helpers import (  # noqa: F401 - fixtures
    API,
    CALLBACK,
    OAUTH,
    as_pagerduty_signin,
    fresh_rate_limits,
    me_json,
    oauth_app,
    plain_http,
    start_signin,
    token_answer,
)

# On the sandbox's private team Security (PTSECUR) and on Mobile; Restricted Access sees only its teams' incidents.
# (Omar Oncall, also a member, is on the team's escalation policy: the incident is assigned to him, so he keeps it.)
MEMBER = "restricted@example.com"
PRIVATE_TEAM = "PTSECUR"
PRIVATE_ROUTING_KEY = "5ec0000000000000000000000000beef"  # the Secrets Vault service's integration
TITLE = "Vault unsealed by an unknown key"


def _portal_login(email: str):
    """A password login (made by an admin) linked to the mirrored PagerDuty user with this email."""
    user = get_user_model().objects.create_user(username=email.split("@")[0], email=email, password=PASSWORD)
    pd_user = PagerDutyUser.objects.get(email=email)
    Profile.objects.update_or_create(user=user, defaults={"pd_user": pd_user, "role": pd_user.role})
    return get_user_model().objects.get(pk=user.pk)


def _password_signin(browser: Client, user) -> None:
    response = browser.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


def _sees_the_private_incident(browser: Client) -> bool:
    response = browser.get("/")
    assert response.status_code == 200
    return TITLE in response.content.decode()


@pytest.fixture
def on_sandbox(fresh_sandbox, settings, api_key_mode):
    """The portal on the sandbox with a mirror of its directory and one incident on the private team's service."""
    from incidents import sync
    from pdportal.pagerduty import PagerDutyClient, RequestBudget

    settings.PAGERDUTY_API_URL = fresh_sandbox.url
    settings.PAGERDUTY_API_TOKEN = fresh_sandbox.api_token
    event = {
        "routing_key": PRIVATE_ROUTING_KEY,
        "event_action": "trigger",
        "payload": {"summary": TITLE, "source": "vault-1", "severity": "critical"},
    }
    assert fresh_sandbox.client.post("/v2/enqueue", json=event).status_code == 202
    client = PagerDutyClient(
        token=fresh_sandbox.api_token, api_url=fresh_sandbox.url, budget=RequestBudget(per_minute=1_000_000)
    )
    sync.sync_all(client=client, steps=("teams", "users", "escalation_policies", "services", "incidents"))
    assert Team.objects.get(pd_id=PRIVATE_TEAM).is_private
    assert Incident.objects.filter(title=TITLE).exists()
    return fresh_sandbox


def _remove_from_the_team(sandbox, email: str) -> None:
    response = sandbox.delete(
        f"/teams/{PRIVATE_TEAM}/users/{sandbox.user_id(email)}", headers={"From": "admin@example.com"}
    )
    assert response.status_code == 204, response.text


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_a_password_sign_in_after_removal_from_a_private_team_no_longer_shows_its_incidents(on_sandbox):
    person = _portal_login(MEMBER)
    before = Client()
    _password_signin(before, person)
    assert _sees_the_private_incident(before)

    _remove_from_the_team(on_sandbox, MEMBER)
    after = Client()
    _password_signin(after, person)

    assert not _sees_the_private_incident(after)
    assert not PagerDutyUser.objects.get(email=MEMBER).teams.filter(pd_id=PRIVATE_TEAM).exists()


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_the_periodic_refresh_hides_the_teams_incidents_from_a_session_still_open(on_sandbox):
    from incidents import tasks

    person = _portal_login(MEMBER)
    browser = Client()
    _password_signin(browser, person)
    assert _sees_the_private_incident(browser)

    _remove_from_the_team(on_sandbox, MEMBER)
    assert _sees_the_private_incident(browser)  # nothing told the portal yet
    on_sandbox.clear_log()
    tasks.refresh_memberships()

    assert not _sees_the_private_incident(browser)
    # Within the request budget: the directory only (teams and users), a page or two each, never incidents.
    paths = {entry["path"] for entry in on_sandbox.requests_log()}
    assert paths <= {"/teams", "/users"}, paths


def test_the_membership_refresh_runs_every_15_minutes_or_more_often():
    from django.conf import settings

    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "incidents.tasks.refresh_memberships"
    )
    assert entry["schedule"] <= 15 * 60


@pytest.mark.django_db
@pytest.mark.usefixtures("oauth_app")
def test_a_pagerduty_sign_in_reads_the_persons_teams_again():
    # PagerDuty's /users/me (with include[]=teams) is the truth at each sign-in.
    security = Team.objects.create(pd_id=PRIVATE_TEAM, name="Security", default_role="none")
    vault = Service.objects.create(pd_id="PSSECUR", name="Secrets Vault")
    vault.teams.add(security)
    Incident.objects.create(
        pd_id="PQVAULT1", number=1, title=TITLE, status="triggered", service=vault, created_at="2026-12-01T00:00:00Z"
    )
    as_pagerduty_signin(make_portal_user(email="oncall@example.com"))
    team_ref = {"id": PRIVATE_TEAM, "type": "team_reference", "summary": "Security"}

    def signin(teams: list[dict]) -> Client:
        browser = Client()
        params = start_signin(browser)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
            mocked.post(f"{OAUTH}/oauth/token", json=token_answer())
            mocked.get(f"{API}/users/me", json={"user": me_json("oncall@example.com", teams=teams)})
            assert browser.get(CALLBACK, {"code": "c", "state": params["state"]}).status_code == 302
        return browser

    assert _sees_the_private_incident(signin([team_ref]))
    assert not _sees_the_private_incident(signin([]))
