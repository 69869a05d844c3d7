"""The bulk bar asks only for what the chosen action needs, and resolve or "all N matching" waits for a yes."""

from __future__ import annotations

import json
import re

import pytest
import responses

from incidents import forms
from incidents.models import Incident
from tests.contract.openapi import validate_logged_request
from tests.incidents.factories import incident_json

API = "https://api.pagerduty.test"


@pytest.fixture
def api(settings, api_key_mode):
    settings.PAGERDUTY_API_URL = API
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000


def _make(n: int, status: str = "triggered") -> list[str]:
    from django.utils import timezone

    ids = [f"PB{k:05d}" for k in range(n)]
    Incident.objects.bulk_create(
        [
            Incident(pd_id=pd_id, number=k + 1, title=f"Bulk {k}", status=status, created_at=timezone.now())
            for k, pd_id in enumerate(ids)
        ]
    )
    return ids


def test_each_parameter_belongs_to_its_action_and_the_assignee_box_is_not_a_count(client_as, responder):
    _make(2)
    html = client_as(responder).get("/").content.decode()
    bar = html[html.index('class="bulk-bar"') : html.index("</table>")]
    for action, name in (
        ("reassign", "users"),
        ("reassign", "escalation_policy"),
        ("escalate", "level"),
        ("priority", "priority"),
        ("urgency", "urgency"),
        ("resolve", "resolution"),
        ("snooze", "duration"),
    ):
        group = re.search(rf'<(?:span|div) class="bulk-param" data-for="{action}"[^>]*>(.*?)</(?:span|div)>', bar, re.S)
        assert group and f'name="{name}"' in group.group(1), (action, name)
    # The reassign box is a labelled picker of people, not a one-row multi-select that reads "0 selected".
    assert 'multiple size="1"' not in bar
    assert "data-picker" in bar and 'data-placeholder="Assign to…"' in bar
    assert 'id="bulk-confirm"' in bar


def test_the_bulk_form_needs_a_duration_to_snooze_and_takes_an_optional_resolution_note():
    assert not forms.BulkForm({"action": "snooze", "ids": ["P1"]}).is_valid()
    assert forms.BulkForm({"action": "snooze", "ids": ["P1"], "duration": "3600"}).is_valid()
    form = forms.BulkForm({"action": "resolve", "ids": ["P1"], "resolution": "  rolled back  "})
    assert form.is_valid() and form.cleaned_data["resolution"] == "rolled back"


@pytest.mark.django_db
def test_resolve_is_not_sent_until_confirmed_and_then_carries_the_note(client_as, responder, api):
    ids = _make(2)
    client = client_as(responder)
    with responses.RequestsMock() as rsps:  # nothing may reach PagerDuty before the yes
        response = client.post("/incidents/bulk/", {"action": "resolve", "ids": ids}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="bulk-pending"' in html
    assert "Resolve 2 incidents?" in html
    # The question re-posts exactly the same request, with the confirmation.
    assert 'name="confirmed" value="1"' in html and all(f'value="{i}"' in html for i in ids)

    sent: list[dict] = []

    def answer(request):
        body = json.loads(request.body)
        sent.append(body)
        return (
            200,
            {},
            json.dumps(
                {"incidents": [incident_json(i["id"], n, status="resolved") for n, i in enumerate(body["incidents"])]}
            ),
        )

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        response = client.post(
            "/incidents/bulk/",
            {"action": "resolve", "ids": ids, "resolution": "Rolled back", "confirmed": "1"},
            HTTP_HX_REQUEST="true",
        )
    assert "2 done" in response.content.decode()
    assert [i.get("resolution") for i in sent[0]["incidents"]] == ["Rolled back", "Rolled back"]
    # The body is one PagerDuty's Manage Incidents accepts (its OpenAPI spec).
    validate_logged_request({"method": "PUT", "path": "/incidents", "body": sent[0], "from": "responder@example.com"})


@pytest.mark.django_db
def test_all_n_matching_asks_first_naming_the_count_even_for_a_harmless_action(client_as, responder, api):
    _make(3)
    with responses.RequestsMock():
        response = client_as(responder).post(
            "/incidents/bulk/",
            {"action": "acknowledge", "select_all": "1", "query": "status=triggered"},
            HTTP_HX_REQUEST="true",
        )
    assert "Acknowledge all 3 matching incidents?" in response.content.decode()


@pytest.mark.django_db
def test_a_plain_post_without_javascript_gets_the_same_question(client_as, responder, api):
    ids = _make(1)
    with responses.RequestsMock():
        response = client_as(responder).post("/incidents/bulk/", {"action": "resolve", "ids": ids})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Resolve 1 incident?" in html and 'name="confirmed" value="1"' in html


@pytest.mark.django_db
def test_bulk_snooze_snoozes_each_acknowledged_incident(client_as, responder, api):
    acked = _make(2, status="acknowledged")
    Incident.objects.create(
        pd_id="PTRIG", number=99, title="t", status="triggered", created_at=Incident.objects.first().created_at
    )
    with responses.RequestsMock() as rsps:
        for n, pd_id in enumerate(acked):
            rsps.add(
                responses.POST,
                f"{API}/incidents/{pd_id}/snooze",
                json={"incident": incident_json(pd_id, n, status="acknowledged")},
                match=[responses.matchers.json_params_matcher({"duration": 3600})],
            )
        response = client_as(responder).post(
            "/incidents/bulk/",
            {"action": "snooze", "duration": "3600", "ids": [*acked, "PTRIG"]},
            HTTP_HX_REQUEST="true",
        )
    assert "2 done, 1 not acknowledged" in response.content.decode()
    for pd_id in acked:
        validate_logged_request(
            {"method": "POST", "path": f"/incidents/{pd_id}/snooze", "body": {"duration": 3600}, "from": "r@x.test"}
        )
