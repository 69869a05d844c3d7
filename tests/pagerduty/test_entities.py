"""Entity helpers wrap and unwrap bodies, including PagerDuty's endpoints that do not follow the pattern."""

import json

import pytest
import responses

from pdportal.pagerduty.client import singular
from pdportal.pagerduty.errors import InvalidInput, ServerError

from .conftest import API


def sent(mocked, index=0):
    return json.loads(mocked.calls[index].request.body)


@pytest.mark.parametrize(
    ("collection", "name"),
    [
        ("incidents", "incident"),
        ("escalation_policies", "escalation_policy"),
        ("priorities", "priority"),
        ("webhook_subscriptions", "webhook_subscription"),
        ("templates", "template"),
        ("change_events", "change_event"),
        ("notes", "note"),
        ("alerts", "alert"),
        ("services", "service"),
        ("users", "user"),
        ("teams", "team"),
        ("log_entries", "log_entry"),
        ("/incidents/P1/notes", "note"),
    ],
)
def test_it_derives_the_wrapper_from_the_collection(collection, name):
    assert singular(collection) == name


def test_get_entity_unwraps(client, mocked):
    mocked.get(f"{API}/escalation_policies/E1", json={"escalation_policy": {"id": "E1"}})
    assert client.get_entity("/escalation_policies/E1") == {"id": "E1"}


def test_create_wraps_and_unwraps(client, mocked):
    mocked.post(f"{API}/incidents", status=201, json={"incident": {"id": "P9"}})
    assert client.create("/incidents", {"title": "Fire"}) == {"id": "P9"}
    assert sent(mocked) == {"incident": {"title": "Fire"}}


def test_update_wraps_with_the_collection_of_the_entity(client, mocked):
    mocked.put(f"{API}/webhook_subscriptions/W1", json={"webhook_subscription": {"id": "W1", "active": False}})
    result = client.update("/webhook_subscriptions/W1", {"active": False})
    assert result == {"id": "W1", "active": False}
    assert sent(mocked) == {"webhook_subscription": {"active": False}}


def test_an_explicit_wrap_wins(client, mocked):
    mocked.post(f"{API}/event_orchestrations", status=201, json={"orchestration": {"id": "O1"}})
    assert client.create("/event_orchestrations", {"name": "x"}, wrap="orchestration") == {"id": "O1"}
    assert sent(mocked) == {"orchestration": {"name": "x"}}


def test_snooze_sends_a_bare_duration_and_returns_the_incident(client, mocked):
    mocked.post(f"{API}/incidents/P1/snooze", status=201, json={"incident": {"id": "P1", "status": "acknowledged"}})
    assert client.snooze_incident("P1", 3600) == {"id": "P1", "status": "acknowledged"}
    assert sent(mocked) == {"duration": 3600}


def test_create_knows_snooze_is_not_wrapped(client, mocked):
    mocked.post(f"{API}/incidents/P1/snooze", status=201, json={"incident": {"id": "P1"}})
    assert client.create("/incidents/P1/snooze", {"duration": 60}) == {"id": "P1"}
    assert sent(mocked) == {"duration": 60}


@pytest.mark.parametrize("duration", [0, 604801, 1.5, True])
def test_snooze_refuses_an_invalid_duration_before_calling(client, mocked, duration):
    with pytest.raises(InvalidInput, match="between 1 and 604800"):
        client.snooze_incident("P1", duration)


def test_merge_sends_source_incident_references(client, mocked):
    mocked.put(f"{API}/incidents/P1/merge", json={"incident": {"id": "P1", "type": "incident_reference"}})
    assert client.merge_incidents("P1", ["P2", "P3"])["id"] == "P1"
    assert sent(mocked) == {
        "source_incidents": [{"id": "P2", "type": "incident_reference"}, {"id": "P3", "type": "incident_reference"}]
    }


def test_status_update_is_a_bare_body_with_a_wrapped_answer(client, mocked):
    mocked.post(f"{API}/incidents/P1/status_updates", json={"status_update": {"id": "S1", "message": "ok"}})
    result = client.create_status_update("P1", message="ok", subject="Update", html_message="<p>ok</p>")
    assert result == {"id": "S1", "message": "ok"}
    assert sent(mocked) == {"message": "ok", "subject": "Update", "html_message": "<p>ok</p>"}


def test_status_update_needs_subject_and_html_together(client):
    with pytest.raises(InvalidInput, match="both a subject"):
        client.create_status_update("P1", message="ok", subject="only a subject")


def test_responder_request_wraps_each_target(client, mocked):
    mocked.post(f"{API}/incidents/P1/responder_requests", json={"responder_request": {"message": "help"}})
    result = client.create_responder_request(
        "P1", requester_id="U1", message="help", targets=[{"id": "U2", "type": "user_reference"}]
    )
    assert result == {"message": "help"}
    assert sent(mocked) == {
        "requester_id": "U1",
        "message": "help",
        "responder_request_targets": [{"responder_request_target": {"id": "U2", "type": "user_reference"}}],
    }


def test_render_template_returns_the_whole_body(client, mocked):
    answer = {"templated_fields": {"message": "Update: hi"}, "warnings": [], "errors": []}
    mocked.post(f"{API}/templates/T1/render", json=answer)
    assert client.render_template("T1", incident_id="P1", message="hi") == answer
    assert sent(mocked) == {"incident_id": "P1", "status_update": {"message": "hi"}}


def test_manage_incidents_chunks_by_250_and_returns_every_result(client, mocked):
    def callback(request):
        incidents = json.loads(request.body)["incidents"]
        return 200, {}, json.dumps({"incidents": [{"id": i["id"], "status": i["status"]} for i in incidents]})

    mocked.add_callback(responses.PUT, f"{API}/incidents", callback=callback)
    updates = [{"id": f"P{i}", "status": "acknowledged"} for i in range(600)]
    results = client.manage_incidents(updates)
    assert [r["id"] for r in results] == [f"P{i}" for i in range(600)]
    assert [len(json.loads(c.request.body)["incidents"]) for c in mocked.calls] == [250, 250, 100]
    assert json.loads(mocked.calls[0].request.body)["incidents"][0] == {
        "type": "incident_reference",
        "id": "P0",
        "status": "acknowledged",
    }


def test_manage_incidents_reports_what_was_already_applied(client, mocked):
    mocked.put(f"{API}/incidents", json={"incidents": [{"id": f"P{i}"} for i in range(250)]})
    mocked.put(f"{API}/incidents", status=500, json={"error": {"message": "Internal Server Error"}})
    with pytest.raises(ServerError) as info:
        client.manage_incidents([{"id": f"P{i}", "status": "resolved"} for i in range(300)])
    assert len(info.value.partial_results) == 250
