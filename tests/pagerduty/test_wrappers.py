"""The wrap/unwrap table matches PagerDuty's REST spec, including its unwrapped exceptions."""

import json
from pathlib import Path

import pytest

from pdportal.pagerduty.wrappers import WRAPPERS, build_table, lookup

SPEC = Path(__file__).resolve().parents[2] / "sandbox" / "openapi" / "rest-openapiv3.json"


def test_the_table_is_generated_from_the_current_spec():
    spec = json.loads(SPEC.read_text())
    assert build_table(spec) == WRAPPERS


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/incidents", ("incident", "incident")),
        ("PUT", "/incidents/P1", ("incident", "incident")),
        ("POST", "/incidents/P1/snooze", (None, "incident")),
        ("PUT", "/incidents/P1/merge", (None, "incident")),
        ("POST", "/incidents/P1/status_updates", (None, "status_update")),
        ("POST", "/incidents/P1/responder_requests", (None, "responder_request")),
        ("POST", "/templates/T1/render", (None, None)),
        ("PUT", "/incidents", (None, None)),
        ("POST", "/incidents/types", ("incident_type", "incident_type")),
        ("POST", "/incidents/P1/notes", ("note", "note")),
        (
            "PUT",
            "/users/U1/status_update_notification_rules/R1",
            ("status_update_notification_rule", "notification_rule"),
        ),
        ("POST", "/webhook_subscriptions", ("webhook_subscription", "webhook_subscription")),
    ],
)
def test_it_knows_how_each_endpoint_wraps(method, path, expected):
    assert lookup(method, path) == expected


def test_unknown_paths_fall_back_to_the_naming_convention(client, mocked):
    mocked.post("https://api.pagerduty.test/widgets", json={"widget": {"id": "W1"}})
    assert lookup("POST", "/widgets") is None
    assert client.create("/widgets", {"name": "x"}) == {"id": "W1"}
    assert json.loads(mocked.calls[0].request.body) == {"widget": {"name": "x"}}


def test_update_of_custom_field_values_sends_a_bare_body(client, mocked):
    mocked.put("https://api.pagerduty.test/incidents/P1/custom_fields/values", json={"custom_fields": [{"id": "F"}]})
    body = {"custom_fields": [{"id": "F", "value": "x"}]}
    assert client.update("/incidents/P1/custom_fields/values", body) == [{"id": "F"}]
    assert json.loads(mocked.calls[0].request.body) == body
