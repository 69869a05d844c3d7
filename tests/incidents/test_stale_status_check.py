"""Stale-page safety: an action states the status the page showed; PagerDuty's current status decides.

When PagerDuty's incident moved to a status where the action means something else (acknowledging a resolved
incident would reopen it), the portal refuses, sends no write, says who changed it and when, and the mirror
takes PagerDuty's answer. It reads PagerDuty itself first (a GET), not only the mirror.
"""

from __future__ import annotations

import re

import pytest

from incidents.models import Incident
from tests.incidents.sandbox_log import writes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]

REFUSAL = re.compile(r"#\d+ was resolved by Adam Admin at \d\d:\d\d; nothing was changed\.")


def post(client, incident, action, data):
    return client.post(f"/incidents/{incident.pd_id}/{action}/", data, HTTP_HX_REQUEST="true")


def resolve_elsewhere(sandbox, incident) -> None:
    """Someone else resolves it in PagerDuty; the mirror (and so the page) has not heard yet."""
    response = sandbox.put(
        f"/incidents/{incident.pd_id}",
        json={"incident": {"type": "incident_reference", "status": "resolved"}},
        headers={"From": "admin@example.com"},
    )
    assert response.status_code == 200, response.text
    sandbox.clear_log()


@pytest.mark.parametrize(
    ("status", "action", "data"),
    [
        ("triggered", "acknowledge", {}),
        ("acknowledged", "snooze", {"duration": "3600"}),
        ("triggered", "escalate", {"level": "2"}),
    ],
)
def test_an_action_from_a_stale_page_on_a_resolved_incident_is_refused_and_sends_nothing(
    mirrored, pick, client_as, responder, status, action, data
):
    incident = pick(status)
    resolve_elsewhere(mirrored, incident)
    response = post(client_as(responder), incident, action, {**data, "expected_status": status})
    html = response.content.decode()
    assert response.status_code == 200
    assert REFUSAL.search(html), html
    assert writes(mirrored) == []
    assert [(e["method"], e["path"]) for e in mirrored.requests_log()] == [("GET", f"/incidents/{incident.pd_id}")]
    assert mirrored.get(f"/incidents/{incident.pd_id}").json()["incident"]["status"] == "resolved"
    # The mirror learns PagerDuty's status, and the answer re-sends the header so the page shows it.
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    assert 'id="incident-status">resolved<' in html


def test_an_action_whose_status_still_holds_is_sent_after_one_read(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    post(client_as(responder), incident, "acknowledge", {"expected_status": "triggered"})
    # The incident's own requests: in a full run the sandbox's log also held a GET /priorities of the sync.
    calls = [(e["method"], e["path"]) for e in mirrored.requests_log() if e["path"].startswith("/incidents/")]
    assert calls[:2] == [("GET", f"/incidents/{incident.pd_id}"), ("PUT", f"/incidents/{incident.pd_id}")]
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"


def test_a_note_on_a_resolved_incident_still_goes_through_without_an_extra_read(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    resolve_elsewhere(mirrored, incident)
    post(client_as(responder), incident, "note", {"content": "post-mortem on Monday", "expected_status": "triggered"})
    assert writes(mirrored) == [("POST", f"/incidents/{incident.pd_id}/notes")]
    assert ("GET", f"/incidents/{incident.pd_id}") not in [(e["method"], e["path"]) for e in mirrored.requests_log()]


def test_pagerduty_is_called_outside_any_database_transaction(mirrored, pick, client_as, responder, monkeypatch):
    from django.db import connection

    from pdportal.pagerduty import PagerDutyClient

    calls: list[tuple[str, str, bool]] = []
    original = PagerDutyClient.request

    def spy(self, method, path, *args, **kwargs):
        calls.append((method, path, connection.in_atomic_block))
        return original(self, method, path, *args, **kwargs)

    monkeypatch.setattr(PagerDutyClient, "request", spy)
    incident = pick("triggered")
    post(client_as(responder), incident, "acknowledge", {"expected_status": "triggered"})
    read = calls.index(("GET", f"/incidents/{incident.pd_id}", False))
    write = calls.index(("PUT", f"/incidents/{incident.pd_id}", False))
    assert read < write
    assert [c for c in calls if c[2]] == [], calls  # the status read, the write and the log refresh
