"""The identity interface other apps code against: personas, roles, clients per person and for jobs."""

import pytest
import responses

from accounts.clients import account_client, events_client, pagerduty_client_for
from accounts.errors import NoAccountConnection, NotLinked
from accounts.models import AuditEntry
from accounts.roles import PortalRole, portal_role
from tests.personas import seed_users

API = "https://api.pagerduty.test"


def test_personas_have_the_roles_of_their_seed_users(responder, observer, admin, outsider):
    assert portal_role(responder) == PortalRole.RESPONDER
    assert portal_role(observer) == PortalRole.READ_ONLY
    assert portal_role(admin) == PortalRole.ADMIN
    assert portal_role(outsider) is None


def test_persona_ids_follow_the_sandbox_seed():
    users = seed_users()
    assert {"responder@example.com", "observer@example.com", "admin@example.com"} <= set(users)
    assert len({u.pd_id for u in users.values()}) == len(users)
    assert all(len(u.pd_id) == 7 and u.pd_id.startswith("P") for u in users.values())


@pytest.mark.parametrize(
    ("pd_role", "expected"),
    [
        ("owner", PortalRole.ADMIN),
        ("admin", PortalRole.ADMIN),
        ("user", PortalRole.RESPONDER),
        ("limited_user", PortalRole.RESPONDER),
        ("observer", PortalRole.READ_ONLY),
        ("read_only_user", PortalRole.READ_ONLY),
        ("restricted_access", PortalRole.READ_ONLY),
        ("something_new", None),
    ],
)
def test_it_maps_every_pagerduty_role(responder, pd_role, expected):
    responder.profile.role = pd_role
    responder.profile.save()
    assert portal_role(responder) == expected


@responses.activate
def test_it_acts_with_the_account_key_and_the_persons_email(responder, api_key_mode, settings):
    responses.put(f"{API}/incidents/PABC123", json={"incident": {"id": "PABC123"}})
    client = pagerduty_client_for(user=responder)
    client.update("/incidents/PABC123", {"status": "acknowledged"})
    sent = responses.calls[0].request
    assert sent.headers["From"] == "responder@example.com"
    assert sent.headers["Authorization"] == f"Token token={settings.SANDBOX_API_TOKEN}"
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.method, entry.path, entry.target, entry.status) == (
        responder,
        "PUT",
        "/incidents/PABC123",
        "PABC123",
        200,
    )
    assert entry.operation == "PUT /incidents/{id}"


def test_an_unlinked_person_cannot_act(outsider, api_key_mode):
    with pytest.raises(NotLinked):
        pagerduty_client_for(user=outsider)


def test_background_jobs_need_a_connection(db, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    with pytest.raises(NoAccountConnection, match="Settings"):
        account_client()


def test_background_jobs_use_the_api_key(db, api_key_mode):
    client = account_client()
    assert client.auth == "token" and client.from_email is None


def test_events_client_points_at_the_events_host(settings):
    assert events_client().events_url == settings.PAGERDUTY_EVENTS_URL


def test_persona_ids_match_the_running_sandbox(sandbox):
    for email, user in seed_users().items():
        assert sandbox.user_id(email) == user.pd_id, email
