"""The --simulate traffic generator: its steps trigger, acknowledge and resolve, and webhooks flow."""

import pytest

from tests.sandbox.webhook_receiver import Receiver

pytestmark = pytest.mark.sandbox


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_simulated_steps_change_incidents_and_emit_webhooks(fresh_sandbox, receiver):
    sandbox = fresh_sandbox
    try:
        body = {
            "webhook_subscription": {
                "type": "webhook_subscription",
                "delivery_method": {"type": "http_delivery_method", "url": receiver.url},
                "events": ["incident.triggered", "incident.acknowledged", "incident.resolved"],
                "filter": {"type": "account_reference"},
            }
        }
        assert sandbox.post("/webhook_subscriptions", json=body).status_code == 200
        response = sandbox.client.post("/_sandbox/simulate/step", json={"steps": 30, "seed": 7})
        assert response.status_code == 200
        actions = response.json()["actions"]
        assert {"trigger", "acknowledge", "resolve"} <= set(actions)
        sandbox.client.post("/_sandbox/deliveries/flush", json={"timeout": 20})
        delivered = {r.event["event_type"] for r in receiver.received}
        assert delivered == {"incident.triggered", "incident.acknowledged", "incident.resolved"}
        assert len(receiver.received) == len([a for a in actions if a != "idle"])
    finally:
        sandbox.reset()


def test_the_generator_is_bounded_by_max_open(fresh_sandbox):
    sandbox = fresh_sandbox
    try:
        sandbox.client.post("/_sandbox/simulate/step", json={"steps": 40, "seed": 1, "max_open": 3})
        params = {"incident_key": None, "statuses[]": ["triggered", "acknowledged"], "date_range": "all", "limit": 100}
        open_now = sandbox.get("/incidents", params={k: v for k, v in params.items() if v}).json()["incidents"]
        simulated = [i for i in open_now if i["incident_key"].startswith("sim-")]
        assert 0 < len(simulated) <= 3
    finally:
        sandbox.reset()
