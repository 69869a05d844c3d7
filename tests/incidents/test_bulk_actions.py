"""Bulk actions through Manage Incidents (PUT /incidents): chunks of 250, per-incident results in words."""

from __future__ import annotations

import json

import pytest
import responses

from incidents import actions, mirror
from incidents.models import Incident
from tests.incidents.factories import incident_json
from tests.incidents.sandbox_log import writes

API = "https://api.pagerduty.test"


@pytest.fixture
def sent_chunks(monkeypatch):
    """The incident ids of every Manage Incidents request, with PagerDuty's status (the sandbox logs no bodies)."""
    from pdportal.pagerduty import PagerDutyClient, PagerDutyError

    chunks: list[tuple[list[str], int]] = []
    original = PagerDutyClient.manage_incidents

    def spy(self, updates, **kw):
        ids = [u["id"] for u in updates]
        try:
            answer = original(self, updates, **kw)
        except PagerDutyError as exc:
            chunks.append((ids, exc.status))
            raise
        chunks.append((ids, 200))
        return answer

    monkeypatch.setattr(PagerDutyClient, "manage_incidents", spy)
    return chunks


def sandbox_status(sandbox, pd_id):
    return sandbox.get(f"/incidents/{pd_id}").json()["incident"]["status"]


def resolve_behind_the_mirrors_back(sandbox, pd_id):
    """Resolve in PagerDuty only: the mirror still says open, as when the webhook has not arrived yet."""
    response = sandbox.put(
        f"/incidents/{pd_id}",
        json={"incident": {"type": "incident_reference", "status": "resolved"}},
        headers={"From": "admin@example.com"},
    )
    assert response.status_code == 200
    sandbox.clear_log()


def open_list(ids):
    """PagerDuty's answer to the open-incidents question (GET /incidents?statuses[]=…) naming these incidents."""
    return {
        "incidents": [incident_json(pd_id, n) for n, pd_id in enumerate(ids)],
        "limit": 100,
        "offset": 0,
        "more": False,
        "total": len(ids),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_it_bulk_resolves_and_reports_already_resolved(mirrored, client_as, responder):
    open_ids = list(
        Incident.objects.filter(status="triggered").order_by("-created_at").values_list("pd_id", flat=True)[:3]
    )
    resolved_id = Incident.objects.filter(status="resolved").values_list("pd_id", flat=True).first()
    response = client_as(responder).post(
        "/incidents/bulk/",
        {"action": "resolve", "ids": [*open_ids, resolved_id], "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "3 done, 1 already resolved" in html
    assert writes(mirrored) == [("PUT", "/incidents")]
    assert set(Incident.objects.filter(pd_id__in=open_ids).values_list("status", flat=True)) == {"resolved"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_select_all_matching_applies_to_the_whole_filtered_set(mirrored, client_as, responder):
    from services.models import Service

    service = Service.objects.filter(incidents__status="triggered").first()
    query = f"status=triggered&service={service.pd_id}"
    expected = set(Incident.objects.filter(status="triggered", service=service).values_list("pd_id", flat=True))
    response = client_as(responder).post(
        "/incidents/bulk/", {"action": "acknowledge", "select_all": "1", "query": query, "confirmed": "1"}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"?{query}")
    assert set(Incident.objects.filter(pd_id__in=expected).values_list("status", flat=True)) == {"acknowledged"}
    assert Incident.objects.filter(status="triggered", service=service).count() == 0


@pytest.mark.django_db
def test_an_oversized_selection_is_chunked_by_250_with_the_actors_identity(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    ids = [f"PBULK{n:03d}" for n in range(300)]
    seen: list[dict] = []

    def answer(request):
        body = json.loads(request.body)
        seen.append({"body": body, "from": request.headers.get("From"), "auth": request.headers.get("Authorization")})
        return (
            200,
            {},
            json.dumps(
                {
                    "incidents": [
                        incident_json(i["id"], n, status="acknowledged") for n, i in enumerate(body["incidents"])
                    ]
                }
            ),
        )

    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{API}/incidents", json=open_list(ids[:100]) | {"more": True, "total": 300})
        rsps.add(responses.GET, f"{API}/incidents", json=open_list(ids[100:200]) | {"more": True, "total": 300})
        rsps.add(responses.GET, f"{API}/incidents", json=open_list(ids[200:]) | {"total": 300})
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        result = actions.incidents_bulk(actor=responder, incident_ids=ids, action="acknowledge", params={})
    assert [len(s["body"]["incidents"]) for s in seen] == [250, 50]
    assert seen[0]["body"]["incidents"][0] == {"type": "incident_reference", "id": "PBULK000", "status": "acknowledged"}
    assert {s["from"] for s in seen} == {"responder@example.com"}
    assert seen[0]["auth"] == f"Token token={settings.SANDBOX_API_TOKEN}"
    assert result.requests == 2 and len(result.done) == 300
    assert result.summary() == "300 done"


@pytest.mark.django_db
def test_it_retries_a_refused_chunk_in_parts_so_only_the_refused_incident_fails(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    ids = [f"PBULK{n:03d}" for n in range(260)]
    sizes = []

    def answer(request):
        body = json.loads(request.body)
        sizes.append(len(body["incidents"]))
        if any(i["id"] == "PBULK007" for i in body["incidents"]):
            error = {"error": {"message": "Incident Already Resolved", "code": 1001, "errors": []}}
            return 400, {}, json.dumps(error)
        return 200, {}, json.dumps({"incidents": [incident_json(i["id"], 1) for i in body["incidents"]]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        result = actions.incidents_bulk(actor=responder, incident_ids=ids, action="urgency", params={"urgency": "low"})
    assert result.failed == {"PBULK007": "Incident Already Resolved (1001)"}
    assert len(result.done) == 259 and "PBULK007" not in result.done
    assert result.summary() == "259 done, 1 refused by PagerDuty: Incident Already Resolved (1001)"
    # The refused chunk of 250 is halved until the one incident is found: a few requests, not 250.
    assert sizes[:3] == [250, 125, 62] and len(sizes) <= 2 + 2 * 8
    assert sum(size for size in sizes if size < 250) >= 250


@pytest.mark.django_db
def test_a_refusal_of_the_change_itself_costs_a_bounded_number_of_requests(responder, api_key_mode, settings):
    # An escalation level the policy lacks: PagerDuty refuses every half the same way.
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    ids = [f"PBULK{n:03d}" for n in range(600)]
    error = {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Escalation level invalid"]}}
    with responses.RequestsMock() as rsps:
        put = rsps.add(responses.PUT, f"{API}/incidents", status=400, json=error)
        result = actions.incidents_bulk(actor=responder, incident_ids=ids, action="urgency", params={"urgency": "low"})
    # One chunk of 250 and its bounded search; the other 350 are not sent at all.
    assert put.call_count == result.requests <= 1 + actions.BISECT_BUDGET
    assert set(result.failed) == set(ids) and not result.done
    assert set(result.failed.values()) == {"Invalid Input Provided (2001): Escalation level invalid"}
    assert result.summary() == "600 refused by PagerDuty: Invalid Input Provided (2001): Escalation level invalid"


@pytest.mark.django_db
def test_it_reports_already_resolved_when_pagerdutys_answer_says_so(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    mirror.upsert_incident(incident_json("PA", 1, status="triggered"))
    mirror.upsert_incident(incident_json("PB", 2, status="triggered"))
    with responses.RequestsMock() as rsps:
        # PagerDuty listed both as open, and PB was resolved by someone else a moment later.
        rsps.add(responses.GET, f"{API}/incidents", json=open_list(["PA", "PB"]))
        rsps.add(
            responses.PUT,
            f"{API}/incidents",
            json={
                "incidents": [
                    incident_json("PA", 1, status="acknowledged", updated_at="2026-11-21T00:00:00Z"),
                    incident_json("PB", 2, status="resolved", updated_at="2026-11-21T00:00:00Z"),
                ]
            },
        )
        result = actions.incidents_bulk(actor=responder, incident_ids=["PA", "PB"], action="acknowledge", params={})
        listed = rsps.calls[0].request
    assert result.summary() == "1 done, 1 already resolved"
    assert result.unchanged == {"PB": "already resolved"}
    assert "statuses%5B%5D=triggered" in listed.url and "date_range=all" in listed.url
    assert Incident.objects.get(pd_id="PB").status == "resolved"


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_it_never_reopens_resolved_incidents_when_acknowledging_all_matching(
    mirrored, client_as, responder, sent_chunks
):
    resolved = set(Incident.objects.filter(status="resolved").values_list("pd_id", flat=True))
    open_ids = set(Incident.objects.exclude(status="resolved").values_list("pd_id", flat=True))
    assert resolved and open_ids
    # "Select all matching" on a list of every status (the home shows open ones only): resolved ones included.
    every = "status=triggered&status=acknowledged&status=resolved"
    response = client_as(responder).post(
        "/incidents/bulk/",
        {"action": "acknowledge", "select_all": "1", "query": every, "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert f"{len(resolved)} already resolved" in html
    assert {pd_id for ids, _ in sent_chunks for pd_id in ids} == open_ids
    listed = mirrored.get("/incidents", params={"statuses[]": "resolved", "date_range": "all", "total": "true"})
    assert listed.json()["total"] == len(resolved)
    assert set(Incident.objects.filter(pd_id__in=resolved).values_list("status", flat=True)) == {"resolved"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_select_all_on_the_home_means_its_open_incidents_only(mirrored, client_as, responder, sent_chunks):
    open_ids = set(Incident.objects.exclude(status="resolved").values_list("pd_id", flat=True))
    response = client_as(responder).post(
        "/incidents/bulk/",
        {"action": "acknowledge", "select_all": "1", "query": "", "confirmed": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert "already resolved" not in response.content.decode()
    assert {pd_id for ids, _ in sent_chunks for pd_id in ids} == open_ids


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_it_asks_pagerduty_before_acknowledging_what_the_mirror_thinks_is_open(
    mirrored, client_as, responder, sent_chunks
):
    stale, fresh = (
        Incident.objects.filter(status="triggered").order_by("-created_at").values_list("pd_id", flat=True)[:2]
    )
    resolve_behind_the_mirrors_back(mirrored, stale)
    response = client_as(responder).post(
        "/incidents/bulk/", {"action": "acknowledge", "ids": [stale, fresh]}, HTTP_HX_REQUEST="true"
    )
    assert "1 done, 1 already resolved" in response.content.decode()
    assert sent_chunks == [([fresh], 200)]
    assert sandbox_status(mirrored, stale) == "resolved"
    assert sandbox_status(mirrored, fresh) == "acknowledged"


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_it_bulk_reassigns_open_incidents_mixed_with_resolved_ones(mirrored, client_as, responder, sent_chunks):
    from accounts.models import PagerDutyUser

    oncall = PagerDutyUser.objects.get(email="oncall@example.com")
    first, second, stale = (
        Incident.objects.filter(status="triggered").order_by("-created_at").values_list("pd_id", flat=True)[:3]
    )
    known_resolved = Incident.objects.filter(status="resolved").values_list("pd_id", flat=True).first()
    resolve_behind_the_mirrors_back(mirrored, stale)
    response = client_as(responder).post(
        "/incidents/bulk/",
        {"action": "reassign", "users": [oncall.pd_id], "ids": [first, stale, second, known_resolved]},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    refusal = "Incident is resolved; it cannot be reassigned."
    assert "2 done, 1 already resolved, 1 refused by PagerDuty:" in html and refusal in html
    assert f'<li data-incident="{stale}">' in html
    # The mirror's resolved incident is never sent; PagerDuty's refusal of the whole chunk is split to find `stale`.
    assert sent_chunks == [
        ([first, stale, second], 400),
        ([first], 200),
        ([stale, second], 400),
        ([stale], 400),
        ([second], 200),
    ]
    assert [e["status"] for e in mirrored.requests_log() if e["method"] == "PUT"] == [400, 200, 400, 400, 200]
    for pd_id in (first, second):
        assert list(Incident.objects.get(pd_id=pd_id).assignees.values_list("pd_id", flat=True)) == [oncall.pd_id]
        assignees = mirrored.get(f"/incidents/{pd_id}").json()["incident"]["assignments"]
        assert [a["assignee"]["id"] for a in assignees] == [oncall.pd_id]
    assert sandbox_status(mirrored, stale) == "resolved"


@pytest.mark.django_db
def test_it_refuses_select_all_when_the_saved_filters_do_not_validate(client_as, responder, api_key_mode):
    mirror.upsert_incident(incident_json("PA", 1, status="triggered"))
    mirror.upsert_incident(incident_json("PB", 2, status="acknowledged"))
    data = {"action": "resolve", "select_all": "1", "query": "status=triggered&since=not-a-date"}
    with responses.RequestsMock() as rsps:
        htmx = client_as(responder).post("/incidents/bulk/", data, HTTP_HX_REQUEST="true")
        plain = client_as(responder).post("/incidents/bulk/", data, follow=True)
        assert not rsps.calls
    assert 'id="bulk-error"' in htmx.content.decode()
    assert "Nothing was changed: the list&#x27;s filters are not valid" in htmx.content.decode()
    assert "Created from: Enter a valid date/time." in htmx.content.decode()
    assert "Nothing was changed" in plain.content.decode()
    assert set(Incident.objects.values_list("status", flat=True)) == {"triggered", "acknowledged"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        (
            "reassign",
            {"users": ["PU1", "PU2"]},
            {
                "assignments": [
                    {"assignee": {"id": "PU1", "type": "user_reference"}},
                    {"assignee": {"id": "PU2", "type": "user_reference"}},
                ]
            },
        ),
        (
            "reassign",
            {"escalation_policy": "PEP9"},
            {"escalation_policy": {"id": "PEP9", "type": "escalation_policy_reference"}},
        ),
        ("escalate", {"level": 3}, {"escalation_level": 3}),
        ("priority", {"priority": "PPRI2"}, {"priority": {"id": "PPRI2", "type": "priority_reference"}}),
        ("urgency", {"urgency": "low"}, {"urgency": "low"}),
    ],
)
def test_every_bulk_action_sends_pagerdutys_shape(responder, api_key_mode, settings, action, params, expected):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    bodies = []

    def answer(request):
        body = json.loads(request.body)
        bodies.append(body)
        return 200, {}, json.dumps({"incidents": [incident_json(i["id"], 1) for i in body["incidents"]]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        actions.incidents_bulk(actor=responder, incident_ids=["PA", "PB"], action=action, params=params)
    assert bodies[0]["incidents"][1] == {"type": "incident_reference", "id": "PB", **expected}


@pytest.mark.django_db
def test_bulk_input_errors_send_nothing(client_as, responder):
    with responses.RequestsMock():
        response = client_as(responder).post(
            "/incidents/bulk/", {"action": "escalate", "ids": ["PA"]}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert "Choose an escalation level" in response.content.decode()


@pytest.mark.django_db
def test_it_names_each_refused_incident_after_a_plain_post(client_as, responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    mirror.upsert_incident(incident_json("PA", 41))
    mirror.upsert_incident(incident_json("PB", 42))

    def answer(request):
        body = json.loads(request.body)
        if any(i["id"] == "PB" for i in body["incidents"]):
            error = {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Priority not found"]}}
            return 400, {}, json.dumps(error)
        return 200, {}, json.dumps({"incidents": [incident_json(i["id"], 41) for i in body["incidents"]]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        response = client_as(responder).post(
            "/incidents/bulk/", {"action": "priority", "priority": "PPRI9", "ids": ["PA", "PB"]}, follow=True
        )
    html = response.content.decode()
    assert "1 done, 1 refused by PagerDuty: Invalid Input Provided (2001): Priority not found" in html
    assert "#42: Invalid Input Provided (2001): Priority not found" in html
