"""Against the sandbox: in API-key mode each person's writes are attributed to them through `From`."""

import pytest

from accounts.clients import pagerduty_client_for


@pytest.fixture
def on_sandbox(fresh_sandbox, settings, api_key_mode):
    settings.PAGERDUTY_API_URL = fresh_sandbox.url
    settings.PAGERDUTY_API_TOKEN = fresh_sandbox.api_token
    incident = fresh_sandbox.get("/incidents", params={"limit": 1}).json()["incidents"][0]
    return fresh_sandbox, incident["id"]


def test_a_note_written_in_api_key_mode_is_the_persons(on_sandbox, responder):
    sandbox, incident_id = on_sandbox
    note = pagerduty_client_for(user=responder).create(f"/incidents/{incident_id}/notes", {"content": "looking"})
    assert note["user"]["id"] == sandbox.user_id("responder@example.com")


def test_two_people_sharing_the_account_key_stay_distinct(on_sandbox, responder, admin):
    sandbox, incident_id = on_sandbox
    first = pagerduty_client_for(user=responder).create(f"/incidents/{incident_id}/notes", {"content": "one"})
    second = pagerduty_client_for(user=admin).create(f"/incidents/{incident_id}/notes", {"content": "two"})
    assert (first["user"]["id"], second["user"]["id"]) == (
        sandbox.user_id("responder@example.com"),
        sandbox.user_id("admin@example.com"),
    )
