"""Send event by service: pick a service, the portal finds its Events API v2 key, and links to the new incident."""

from __future__ import annotations

import json

import pytest
import responses
from django.utils import timezone

from accounts.models import Team
from incidents.models import Alert, Incident
from services.models import Service

API = "https://api.pagerduty.test"
EVENTS = "https://events.pagerduty.test"
KEY = "R0" * 16  # 32 characters, as PagerDuty's integration keys are


def _integration_ref(pd_id: str, kind: str) -> dict:
    return {"id": pd_id, "type": f"{kind}_reference", "summary": kind}


@pytest.fixture
def checkout(db):
    """A service whose mirrored copy lists an Events API v2 integration."""
    return Service.objects.create(
        pd_id="PSVC001",
        name="Checkout",
        raw={"id": "PSVC001", "integrations": [_integration_ref("PINT001", "events_api_v2_inbound_integration")]},
    )


@pytest.fixture
def mailbox(db):
    """A service with only an email integration: nothing to send an Events API v2 event to."""
    return Service.objects.create(
        pd_id="PSVC002",
        name="Mailbox",
        raw={"id": "PSVC002", "integrations": [_integration_ref("PINT002", "generic_email_inbound_integration")]},
    )


def _service_answer(integrations: list[dict]) -> dict:
    return {"service": {"id": "PSVC001", "type": "service", "name": "Checkout", "integrations": integrations}}


def _trigger(client, **overrides):
    data = {
        "service": "PSVC001",
        "routing_key": "",
        "event_action": "trigger",
        "dedup_key": "disk-7",
        "summary": "Disk 95% on db-7",
        "severity": "critical",
        "source": "db-7",
    }
    data.update(overrides)
    return client.post("/events/send/", data)


def test_it_offers_only_the_services_with_an_events_api_v2_integration(client_as, responder, checkout, mailbox):
    html = client_as(responder).get("/events/send/").content.decode()

    picker = html.split('name="service"', 1)[1].split("</select>", 1)[0]
    assert 'value="PSVC001"' in picker and "Checkout" in picker
    assert 'value="PSVC002"' not in picker


@responses.activate
def test_it_sends_with_the_key_of_the_services_integration_read_under_the_persons_identity(
    client_as, responder, checkout, api_key_mode
):
    integration = {"id": "PINT001", "type": "events_api_v2_inbound_integration", "integration_key": KEY}
    fetch = responses.get(f"{API}/services/PSVC001", json=_service_answer([integration]))
    enqueue = responses.post(
        f"{EVENTS}/v2/enqueue",
        json={"status": "success", "message": "Event processed", "dedup_key": "disk-7"},
        status=202,
    )

    response = _trigger(client_as(responder))

    assert fetch.calls[0].request.params == {"include[]": "integrations"}
    assert fetch.calls[0].request.headers["From"] == responder.email
    sent = json.loads(enqueue.calls[0].request.body)
    assert (sent["routing_key"], sent["dedup_key"], sent["event_action"]) == (KEY, "disk-7", "trigger")
    html = response.content.decode()
    assert 'id="event-result"' in html and "Checkout" in html
    assert KEY not in html  # the person picks a service; the key itself is never shown
    assert 'id="event-incident"' in html and "dedup_key=disk-7" in html and "service=PSVC001" in html


@responses.activate
def test_it_reads_the_integration_itself_when_the_service_lists_only_a_reference(
    client_as, responder, checkout, api_key_mode
):
    responses.get(
        f"{API}/services/PSVC001",
        json=_service_answer([_integration_ref("PINT001", "events_api_v2_inbound_integration")]),
    )
    one = responses.get(
        f"{API}/services/PSVC001/integrations/PINT001",
        json={"integration": {"id": "PINT001", "type": "events_api_v2_inbound_integration", "integration_key": KEY}},
    )
    enqueue = responses.post(f"{EVENTS}/v2/enqueue", json={"status": "success", "dedup_key": "disk-7"}, status=202)

    _trigger(client_as(responder))

    assert len(one.calls) == 1
    assert json.loads(enqueue.calls[0].request.body)["routing_key"] == KEY


@responses.activate
def test_a_service_without_an_events_v2_integration_is_a_clear_message_and_nothing_is_sent(
    client_as, responder, checkout, api_key_mode
):
    email = {"id": "PINT009", "type": "generic_email_inbound_integration", "integration_email": "x@acme.pagerduty.com"}
    responses.get(f"{API}/services/PSVC001", json=_service_answer([email]))

    html = _trigger(client_as(responder)).content.decode()

    assert "Checkout has no Events API v2 integration" in html
    assert not [c for c in responses.calls if c.request.url.startswith(EVENTS)]


@responses.activate
def test_the_raw_routing_key_stays_as_an_advanced_option(client_as, responder, api_key_mode):
    enqueue = responses.post(f"{EVENTS}/v2/enqueue", json={"status": "success", "dedup_key": "disk-7"}, status=202)

    html = _trigger(client_as(responder), service="", routing_key=KEY).content.decode()

    assert json.loads(enqueue.calls[0].request.body)["routing_key"] == KEY
    assert 'id="event-incident"' in html
    assert len(responses.calls) == 1  # no REST call: the key was given


@pytest.mark.parametrize(
    ("service", "key", "message"),
    [
        ("", "", "Choose a service, or enter a routing key under Advanced."),
        ("PSVC001", KEY, "Choose a service or enter a routing key, not both."),
    ],
)
@responses.activate
def test_it_needs_exactly_one_of_a_service_or_a_key(client_as, responder, checkout, service, key, message):
    html = _trigger(client_as(responder), service=service, routing_key=key).content.decode()

    assert message in html
    assert not responses.calls


@responses.activate
def test_a_service_of_a_private_team_is_neither_offered_nor_accepted_for_a_non_member(
    client_as, responder, checkout, api_key_mode
):
    team = Team.objects.create(pd_id="PTEAM99", name="Secret", default_role=Team.PRIVATE)
    checkout.teams.add(team)
    c = client_as(responder)

    assert 'value="PSVC001"' not in c.get("/events/send/").content.decode()
    assert "Select a valid choice" in _trigger(c).content.decode()
    assert not responses.calls


def test_a_read_only_role_may_not_send(client_as, observer, checkout):
    assert client_as(observer).get("/events/send/").status_code == 403
    assert _trigger(client_as(observer)).status_code == 403


def _incident(service: Service, key: str, number: int = 501) -> Incident:
    return Incident.objects.create(
        pd_id=f"PINC{number}", number=number, title="Disk 95% on db-7", status="triggered", service=service,
        incident_key=key, created_at=timezone.now(),
    )  # fmt: skip


def test_the_wait_links_to_the_incident_once_it_is_in_the_mirror(client_as, responder, checkout):
    c = client_as(responder)
    url = "/events/incident/?service=PSVC001&dedup_key=disk-7&attempt=3"

    waiting = c.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert waiting.strip().startswith('<div id="event-incident"')
    assert "Waiting for PagerDuty to open the incident" in waiting and "attempt=4" in waiting

    _incident(checkout, "disk-7")
    found = c.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'href="/incidents/PINC501/"' in found and "#501" in found
    assert "hx-get" not in found  # done: no more requests


def test_the_wait_also_finds_an_alert_deduplicated_into_another_incident(client_as, responder, checkout):
    incident = _incident(checkout, "other-key")
    Alert.objects.create(
        pd_id="PALR001", incident=incident, alert_key="disk-7", status="triggered", created_at=timezone.now()
    )

    found = client_as(responder).get("/events/incident/?service=PSVC001&dedup_key=disk-7&attempt=1").content.decode()

    assert 'href="/incidents/PINC501/"' in found


def test_the_wait_is_bounded_and_then_says_so_clearly(client_as, responder, checkout):
    html = client_as(responder).get("/events/incident/?service=PSVC001&dedup_key=disk-7&attempt=99").content.decode()

    assert "hx-get" not in html
    assert "No incident has appeared for dedup key <code>disk-7</code>" in html
    assert 'href="/?service=PSVC001"' in html


def test_the_wait_never_shows_an_incident_the_person_may_not_see(client_as, responder, checkout):
    team = Team.objects.create(pd_id="PTEAM99", name="Secret", default_role=Team.PRIVATE)
    checkout.teams.add(team)
    _incident(checkout, "disk-7")

    html = client_as(responder).get("/events/incident/?service=PSVC001&dedup_key=disk-7&attempt=1").content.decode()

    assert "PINC501" not in html
