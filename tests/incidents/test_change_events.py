"""Change events: the exact Update Change Event body, the list's paging, and the htmx edit and send forms."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from incidents import mirror
from incidents.models import ChangeEvent

API = "https://api.pagerduty.test"
EVENTS = "https://events.pagerduty.test"
pytestmark = pytest.mark.django_db


@pytest.fixture
def event(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    return mirror.upsert_change_event(
        {
            "id": "PCE1",
            "type": "change_event",
            "summary": "Deploy v1",
            "timestamp": "2026-11-20T09:30:00Z",
            "source": "ci-runner-7",
            "custom_details": {"sha": "abc123"},
            "links": [{"href": "https://ci.example.com/build/7", "text": "Build 7"}],
        }
    )


def change_event_json(pd_id: str, n: int = 0, **over) -> dict:
    return {
        "id": pd_id,
        "type": "change_event",
        "summary": f"Deploy {n}",
        "timestamp": f"2026-11-20T{n // 60 % 24:02d}:{n % 60:02d}:00Z",
        "source": "ci",
        "custom_details": {},
        "links": [],
        **over,
    }


def answer_update(rsps, event_id: str = "PCE1"):
    def callback(request):
        sent = json.loads(request.body)["change_event"]
        return 200, {}, json.dumps({"change_event": change_event_json(event_id, **sent)})

    rsps.add_callback(responses.PUT, f"{API}/change_events/{event_id}", callback=callback)


def test_it_sends_only_the_writable_fields_and_clears_custom_details(event, client_as, responder):
    with responses.RequestsMock() as rsps:
        answer_update(rsps)
        response = client_as(responder).post(
            "/change-events/PCE1/edit/",
            {
                "summary": "Deploy v1 (rolled back)",
                "custom_details": "",
                # Read-only in PagerDuty: a crafted form must not get them sent.
                "source": "somewhere-else",
                "links": '[{"href": "https://evil.example.com"}]',
                "routing_key": "R" * 32,
            },
        )
        body = json.loads(rsps.calls[0].request.body)
        headers = rsps.calls[0].request.headers
    assert response.status_code == 302 and response["Location"] == "/change-events/PCE1/"
    assert body == {"change_event": {"summary": "Deploy v1 (rolled back)", "custom_details": {}}}
    assert headers["From"] == "responder@example.com"
    stored = ChangeEvent.objects.get(pd_id="PCE1")
    assert (stored.summary, stored.custom_details) == ("Deploy v1 (rolled back)", {})


def test_it_sends_edited_custom_details_as_json(event, client_as, responder):
    with responses.RequestsMock() as rsps:
        answer_update(rsps)
        client_as(responder).post(
            "/change-events/PCE1/edit/", {"summary": "Deploy v1", "custom_details": '{"sha": "def456"}'}
        )
        body = json.loads(rsps.calls[0].request.body)
    assert body == {"change_event": {"summary": "Deploy v1", "custom_details": {"sha": "def456"}}}


def test_it_shows_source_and_links_read_only_on_the_edit_form(event, client_as, responder):
    html = client_as(responder).get("/change-events/PCE1/edit/").content.decode()
    form = html.split("<form", 2)[2].split("</form>", 1)[0]  # the edit form (the first is sign-out)
    assert 'name="summary"' in form and 'name="custom_details"' in form
    assert 'name="source"' not in form and 'name="links"' not in form and 'name="routing_key"' not in form
    readonly = html.split('id="change-event-readonly"', 1)[1].split("</dl>", 1)[0]
    assert "ci-runner-7" in readonly and 'href="https://ci.example.com/build/7"' in readonly
    assert "&quot;sha&quot;: &quot;abc123&quot;" in form


def test_it_pages_through_change_events_instead_of_showing_only_the_first_100(event, client_as, responder):
    first = [change_event_json(f"PCEA{n:03d}", n) for n in range(100)]
    second = [change_event_json(f"PCEB{n:03d}", n) for n in range(100)]
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            f"{API}/change_events",
            json={"change_events": first, "limit": 100, "offset": 0, "more": True, "total": 250},
        )
        rsps.add(
            responses.GET,
            f"{API}/change_events",
            json={"change_events": second, "limit": 100, "offset": 100, "more": True, "total": 250},
        )
        c = client_as(responder)
        page_one = c.get("/change-events/", {"integration": "PINT1"}).content.decode()
        page_two = c.get("/change-events/", {"integration": "PINT1", "page": "2"}).content.decode()
        queries = [parse_qs(urlsplit(call.request.url).query) for call in rsps.calls]
    assert [(q["offset"], q["limit"], q["total"]) for q in queries] == [
        (["0"], ["100"], ["true"]),
        (["100"], ["100"], ["true"]),
    ]
    assert queries[0]["integration_ids[]"] == ["PINT1"]
    assert "1\u2013100 of 250" in page_one and 'rel="next" href="?integration=PINT1&amp;page=2"' in page_one
    assert 'rel="prev"' not in page_one
    assert "101\u2013200 of 250" in page_two and "page=3" in page_two and "page=1" in page_two
    assert "PCEB099" in page_two and "PCEA000" not in page_two


def test_it_says_when_pagerdutys_offset_limit_hides_older_change_events(event, client_as, responder):
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            f"{API}/change_events",
            json={"change_events": [change_event_json("PCEZ")], "more": True, "total": 12_000},
        )
        html = client_as(responder).get("/change-events/", {"page": "100"}).content.decode()
        assert parse_qs(urlsplit(rsps.calls[0].request.url).query)["offset"] == ["9900"]
    assert 'id="change-event-capped"' in html and "narrow the dates" in html
    assert 'rel="next"' not in html


def test_the_edit_form_answers_htmx_with_its_partial_and_redirects_on_success(event, client_as, responder):
    c = client_as(responder)
    bad = c.post("/change-events/PCE1/edit/", {"summary": "", "custom_details": "{nope"}, HTTP_HX_REQUEST="true")
    html = bad.content.decode().strip()
    assert bad.status_code == 200 and html.startswith('<div id="change-event-form"') and "<html" not in html
    assert "This field is required" in html and "Custom details must be valid JSON" in html
    assert 'hx-post="/change-events/PCE1/edit/"' in html and 'hx-target="#change-event-form"' in html
    with responses.RequestsMock() as rsps:
        answer_update(rsps)
        good = c.post("/change-events/PCE1/edit/", {"summary": "Deploy v1b"}, HTTP_HX_REQUEST="true")
    assert good["HX-Redirect"] == "/change-events/PCE1/"
    assert ChangeEvent.objects.get(pd_id="PCE1").summary == "Deploy v1b"


def test_the_send_form_answers_htmx_with_its_partial(client_as, responder, api_key_mode):
    c = client_as(responder)
    page = c.get("/change-events/send/").content.decode()
    assert 'hx-post="/change-events/send/"' in page and '<div id="change-event-form"' in page
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{EVENTS}/v2/change/enqueue", json={"status": "success", "message": "ok"}, status=202)
        sent = c.post(
            "/change-events/send/",
            {"routing_key": "R" * 32, "summary": "Deploy v3", "source": "ci", "custom_details": '{"sha": "9"}'},
            HTTP_HX_REQUEST="true",
        )
        body = json.loads(rsps.calls[0].request.body)
    html = sent.content.decode().strip()
    assert html.startswith('<div id="change-event-form"') and 'id="change-result"' in html and "<html" not in html
    assert body["payload"]["summary"] == "Deploy v3" and body["payload"]["custom_details"] == {"sha": "9"}
    with responses.RequestsMock() as rsps:
        missing = c.post("/change-events/send/", {"summary": "No key"}, HTTP_HX_REQUEST="true")
        assert not rsps.calls
    assert missing.content.decode().strip().startswith('<div id="change-event-form"')
    assert "This field is required" in missing.content.decode()
