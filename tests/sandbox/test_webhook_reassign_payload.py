"""The incident.reassigned webhook names the assignees the reassign committed, not the ones before it."""

import pytest

from tests.sandbox.test_webhook_delivery import flush, subscribe, trigger
from tests.sandbox.webhook_receiver import Receiver

pytestmark = pytest.mark.sandbox


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def hooks(fresh_sandbox):
    fresh_sandbox.set_knobs(webhook_retry_base_seconds=0.05)
    yield fresh_sandbox
    fresh_sandbox.reset()


def test_it_sends_the_new_assignees_after_a_reassign(hooks, receiver):
    subscribe(hooks, receiver.url, events=["incident.triggered", "incident.reassigned"])
    trigger(hooks, "wh-reassign")
    flush(hooks)
    [triggered] = receiver.events("incident.triggered")
    incident_id = triggered.event["data"]["id"]
    before = {a["id"] for a in triggered.event["data"]["assignees"]}
    users = hooks.get("/users", params={"limit": 100}).json()["users"]
    target = next(u for u in users if u["id"] not in before)

    response = hooks.put(
        f"/incidents/{incident_id}",
        headers={"From": "responder@example.com"},
        json={
            "incident": {
                "type": "incident_reference",
                "assignments": [{"assignee": {"id": target["id"], "type": "user_reference"}}],
            }
        },
    )
    assert response.status_code == 200, response.text
    assert [a["assignee"]["id"] for a in response.json()["incident"]["assignments"]] == [target["id"]]
    flush(hooks)

    [reassigned] = receiver.events("incident.reassigned")
    assert [a["id"] for a in reassigned.event["data"]["assignees"]] == [target["id"]]
