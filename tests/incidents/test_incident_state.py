"""Visible state on the incident: snooze until, acknowledgement timeout, escalation level and holders, the next
escalation, requested responders and the incident's escalation policy (issue 15)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from accounts.models import PagerDutyUser, Team
from incidents import mirror
from incidents.actions import _apply_incident
from incidents.models import Incident, Responder
from incidents.webhooks import apply_event
from pdportal.pagerduty import webhooks as pd_webhooks
from services.models import EscalationPolicy, OnCall
from tests.incidents.factories import incident_json, ref
from tests.personas import seed_users

pytestmark = pytest.mark.django_db

API = "https://api.pagerduty.com"
T0 = "2026-11-20T10:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _policy(pd_id: str = "PEP1", *, teams: list | None = None, num_loops: int = 1) -> None:
    """Platform On-Call as PagerDuty lists it: level 1 Rita (and a schedule), level 2 Omar, level 3 Adam."""
    mirror.upsert_escalation_policy(
        {
            "id": pd_id,
            "type": "escalation_policy",
            "name": "Platform On-Call",
            "num_loops": num_loops,
            "teams": teams if teams is not None else [ref("team", "PTEAM1", "Platform")],
            "escalation_rules": [
                {
                    "id": "PR1",
                    "escalation_delay_in_minutes": 15,
                    "targets": [ref("user", "PUSR1", "Rita Responder"), ref("schedule", "PSCH1", "Platform Primary")],
                },
                {"id": "PR2", "escalation_delay_in_minutes": 20, "targets": [ref("user", "PUSR2", "Omar Oncall")]},
                {"id": "PR3", "escalation_delay_in_minutes": 30, "targets": [ref("user", "PUSR3", "Adam Admin")]},
            ],
        }
    )


def _assigned(*users: tuple[str, str]) -> list[dict]:
    return [{"at": T0, "assignee": ref("user", pd_id, name)} for pd_id, name in users]


def _snooze_entry(until: str, pd_id: str = "PLSNZ", created: str = "2026-11-20T10:10:00Z") -> dict:
    return {
        "id": pd_id,
        "type": "snooze_log_entry",
        "summary": "Snoozed for 60 minutes",
        "created_at": created,
        "changed_actions": [{"type": "unacknowledge", "at": until}],
    }


# -- the mirror ------------------------------------------------------------------------------------------------------


def test_pending_actions_give_the_next_escalation_of_a_triggered_incident():
    _policy()
    incident = mirror.upsert_incident(
        incident_json(
            pending_actions=[{"type": "escalate", "at": "2026-11-20T10:15:00Z"}], assigned_via="escalation_policy"
        )
    )
    assert incident.escalates_at == at("2026-11-20T10:15:00Z")
    assert incident.escalation_level == 1
    assert incident.snooze_end is None and incident.acknowledgement_lapses_at is None


def test_an_acknowledged_incident_shows_when_its_acknowledgement_lapses():
    incident = mirror.upsert_incident(
        incident_json(
            status="acknowledged",
            updated_at="2026-11-20T10:05:00Z",
            pending_actions=[
                {"type": "resolve", "at": "2026-11-21T10:00:00Z"},
                {"type": "unacknowledge", "at": "2026-11-20T10:35:00Z"},
            ],
        )
    )
    assert incident.acknowledgement_lapses_at == at("2026-11-20T10:35:00Z")
    assert incident.snooze_end is None and incident.escalates_at is None


def test_a_snooze_log_entry_makes_the_pending_unacknowledge_the_snoozes_end():
    incident = mirror.upsert_incident(
        incident_json(status="acknowledged", pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T11:10:00Z"}])
    )
    mirror.upsert_log_entry(_snooze_entry("2026-11-20T11:10:00Z"), incident=incident)
    incident.refresh_from_db()
    assert incident.snooze_end == at("2026-11-20T11:10:00Z")
    assert incident.acknowledgement_lapses_at is None


def test_acknowledging_again_ends_the_snooze_and_brings_back_the_acknowledgement_timeout():
    incident = mirror.upsert_incident(
        incident_json(status="acknowledged", pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T11:10:00Z"}])
    )
    mirror.upsert_log_entry(_snooze_entry("2026-11-20T11:10:00Z"), incident=incident)
    mirror.upsert_incident(
        incident_json(
            status="acknowledged",
            updated_at="2026-11-20T10:20:00Z",
            pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T10:50:00Z"}],
        )
    )
    incident.refresh_from_db()
    assert incident.snooze_end is None
    assert incident.acknowledgement_lapses_at == at("2026-11-20T10:50:00Z")


def test_an_older_snooze_entry_read_again_does_not_replace_a_newer_one():
    incident = mirror.upsert_incident(
        incident_json(status="acknowledged", pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T12:00:00Z"}])
    )
    mirror.upsert_log_entry(_snooze_entry("2026-11-20T12:00:00Z", "PLNEW"), incident=incident)
    mirror.upsert_log_entry(_snooze_entry("2026-11-20T10:40:00Z", "PLOLD", "2026-11-20T10:05:00Z"), incident=incident)
    incident.refresh_from_db()
    assert incident.snooze_end == at("2026-11-20T12:00:00Z")


def test_a_second_shorter_snooze_replaces_the_first():
    incident = mirror.upsert_incident(
        incident_json(status="acknowledged", pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T11:30:00Z"}])
    )
    mirror.upsert_log_entry(_snooze_entry("2026-11-20T14:00:00Z", "PLFIRST", "2026-11-20T10:00:00Z"), incident=incident)
    mirror.upsert_log_entry(
        _snooze_entry("2026-11-20T11:30:00Z", "PLSECOND", "2026-11-20T10:30:00Z"), incident=incident
    )
    incident.refresh_from_db()
    assert incident.snooze_end == at("2026-11-20T11:30:00Z")


def test_a_webhook_without_pending_actions_drops_the_timers_its_status_rules_out():
    """incident.acknowledged carries no pending_actions: the old escalation time must not linger until the refetch."""
    incident = mirror.upsert_incident(
        incident_json(pending_actions=[{"type": "escalate", "at": "2026-11-20T10:15:00Z"}])
    )
    webhook = {
        "id": "PINC1",
        "type": "incident",
        "number": 1,
        "status": "acknowledged",
        "title": "Disk full",
        "assignees": [ref("user", "PUSR1", "Rita Responder")],
        "escalation_policy": ref("escalation_policy", "PEP1"),
    }
    mirror.upsert_incident(webhook, changed_at=at("2026-11-20T10:06:00Z"))
    incident.refresh_from_db()
    assert incident.next_escalation_at is None and incident.escalates_at is None
    triggered = dict(webhook, status="triggered")
    incident.unacknowledge_at = at("2026-11-20T10:40:00Z")
    incident.save()
    mirror.upsert_incident(triggered, changed_at=at("2026-11-20T10:07:00Z"))
    incident.refresh_from_db()
    assert incident.unacknowledge_at is None


def test_pagerdutys_answer_in_the_same_second_as_its_webhook_still_brings_the_timers():
    """The webhook of our own acknowledgement can land first (milliseconds); the answer (whole seconds) carries the
    pending actions no webhook has, so it must not be dropped as older."""

    mirror.upsert_incident(incident_json())
    webhook = {"id": "PINC1", "type": "incident", "number": 1, "status": "acknowledged", "title": "Disk full"}
    mirror.upsert_incident(webhook, changed_at=at("2026-11-20T10:05:00.400Z"))
    _apply_incident(
        incident_json(
            status="acknowledged",
            updated_at="2026-11-20T10:05:00Z",
            pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T10:35:00Z"}],
        )
    )
    assert Incident.objects.get(pd_id="PINC1").acknowledgement_lapses_at == at("2026-11-20T10:35:00Z")


@pytest.mark.parametrize(
    ("assignees", "level"),
    [
        ((("PUSR1", "Rita Responder"),), 1),
        ((("PUSR2", "Omar Oncall"),), 2),
        ((("PUSR3", "Adam Admin"),), 3),
        ((("PNOBODY", "Someone Else"),), None),
    ],
)
def test_the_level_is_the_policy_level_whose_targets_hold_the_assignees(assignees, level):
    _policy()
    incident = mirror.upsert_incident(incident_json(assignments=_assigned(*assignees)))
    assert incident.escalation_level == level


def test_a_person_on_call_at_level_one_through_its_schedule_and_named_at_level_two_holds_level_two():

    _policy()
    omar = PagerDutyUser.objects.create(pd_id="PUSR2", name="Omar Oncall")
    OnCall.objects.create(escalation_policy=EscalationPolicy.objects.get(pd_id="PEP1"), escalation_level=1, user=omar)
    incident = mirror.upsert_incident(incident_json(assignments=_assigned(("PUSR2", "Omar Oncall"))))
    assert incident.escalation_level == 2


def test_a_direct_assignment_holds_no_policy_level():
    _policy()
    incident = mirror.upsert_incident(
        incident_json(assignments=_assigned(("PUSR1", "Rita Responder")), assigned_via="direct_assignment")
    )
    assert incident.escalation_level is None


def test_the_sync_bulk_path_writes_the_same_state_as_one_by_one():
    _policy()
    pages = [
        incident_json(
            "PA",
            1,
            assignments=_assigned(("PUSR2", "Omar Oncall")),
            pending_actions=[{"type": "escalate", "at": "2026-11-20T10:20:00Z"}],
            incidents_responders=[
                {"state": "pending", "user": ref("user", "PUSR3", "Adam Admin"), "requested_at": T0, "message": "help"}
            ],
        ),
        incident_json(
            "PB", 2, status="acknowledged", pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T10:30:00Z"}]
        ),
    ]
    mirror.upsert_incidents(pages)
    a, b = Incident.objects.get(pd_id="PA"), Incident.objects.get(pd_id="PB")
    assert (a.escalation_level, a.escalates_at) == (2, at("2026-11-20T10:20:00Z"))
    assert b.acknowledgement_lapses_at == at("2026-11-20T10:30:00Z")
    assert [(r.user.name, r.answer, r.message) for r in a.responders.all()] == [("Adam Admin", "pending", "help")]


def test_responders_come_from_rest_and_their_answers_from_webhooks():
    incident = mirror.upsert_incident(
        incident_json(
            incidents_responders=[
                {
                    "state": "pending",
                    "user": ref("user", "PUSR2", "Omar Oncall"),
                    "requester": ref("user", "PUSR1", "Rita Responder"),
                    "requested_at": "2026-11-20T10:01:00Z",
                    "updated_at": "2026-11-20T10:01:00Z",
                    "message": "Please look at the database",
                },
                {"state": "pending", "user": ref("user", "PUSR3", "Adam Admin"), "updated_at": "2026-11-20T10:01:00Z"},
            ]
        )
    )
    replied = {
        "incident": ref("incident", "PINC1"),
        "user": ref("user", "PUSR2", "Omar Oncall"),
        "escalation_policy": None,
        "message": "On it",
        "state": "accepted",
        "type": "incident_responder",
    }
    mirror.upsert_responder(replied, incident=incident, changed_at=at("2026-11-20T10:03:00Z"))
    declined = dict(replied, user=ref("user", "PUSR3", "Adam Admin"), state="declined", message="")
    mirror.upsert_responder(declined, incident=incident, changed_at=at("2026-11-20T10:04:00Z"))
    # A late delivery of an older answer changes nothing.
    mirror.upsert_responder(dict(replied, state="pending"), incident=incident, changed_at=at("2026-11-20T10:02:00Z"))
    answers = {r.user.name: (r.answer, r.message) for r in Responder.objects.filter(incident=incident)}
    assert answers == {"Omar Oncall": ("accepted", "On it"), "Adam Admin": ("declined", "")}
    assert Responder.objects.get(user__pd_id="PUSR2").requester.name == "Rita Responder"


def test_the_responder_webhooks_apply_their_answer_to_the_mirror():

    body = json.loads(
        (Path(__file__).resolve().parents[1] / "fixtures" / "webhooks" / "incident.responder.replied.json").read_text()
    )
    incident_id = body["event"]["data"]["incident"]["id"]
    mirror.upsert_incident(incident_json(incident_id, 9))
    apply_event(pd_webhooks.parse_event(json.dumps(body)))
    responder = Responder.objects.get(incident__pd_id=incident_id)
    assert (responder.user.name, responder.answer) == ("Harsh Santwani", "accepted")
    assert responder.message.startswith("Checking now")


# -- the incident page -------------------------------------------------------------------------------------------------


@pytest.fixture
def snoozed(db):
    _policy()
    incident = mirror.upsert_incident(
        incident_json(
            status="acknowledged",
            assignments=_assigned(("PUSR2", "Omar Oncall")),
            pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T11:10:00Z"}],
            incidents_responders=[
                {
                    "state": "joined",
                    "user": ref("user", "PUSR3", "Adam Admin"),
                    "requester": ref("user", "PUSR1", "Rita"),
                }
            ],
        )
    )
    mirror.upsert_log_entry(_snooze_entry("2026-11-20T11:10:00Z"), incident=incident)
    return incident


def test_the_incident_page_shows_the_snooze_level_holders_and_responders(client_as, responder, snoozed):
    html = client_as(responder).get("/incidents/PINC1/?partial=incident-state").content.decode()
    assert html.strip().startswith('<section id="incident-state"')
    # 11:10 UTC is 12:10 in Berlin (the responder persona's zone), through the one time format.
    assert "snoozed until <time" in html and "2026-11-20 12:10 CET</time>" in html
    assert "data-ago>" in html
    assert "Level 2 of 3" in html and "<strong>Omar Oncall</strong>" in html
    assert "none while acknowledged" in html
    assert "Adam Admin" in html and "responder-accepted" in html and ">accepted<" in html


def test_the_incident_page_shows_when_and_to_which_level_it_escalates_next(client_as, responder):
    _policy()
    mirror.upsert_incident(
        incident_json(
            assignments=_assigned(("PUSR1", "Rita Responder")),
            pending_actions=[{"type": "escalate", "at": "2026-11-20T10:15:00Z"}],
        )
    )
    html = client_as(responder).get("/incidents/PINC1/?partial=incident-state").content.decode()
    assert "Level 1 of 3" in html
    assert "to level 2 at <time" in html and "2026-11-20 11:15 CET</time>" in html
    assert "escalates after 15 minutes" in html


def test_snoozing_from_the_portal_shows_snoozed_until_from_pagerdutys_answer(
    client_as, responder, api_key_mode, settings
):
    settings.PAGERDUTY_API_URL = API
    mirror.upsert_incident(incident_json(status="acknowledged"))
    answer = incident_json(
        status="acknowledged",
        updated_at="2026-11-20T10:10:00Z",
        pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T11:10:00Z"}],
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as pd:
        # The page showed "acknowledged": the portal checks that PagerDuty agrees before snoozing.
        pd.get(f"{API}/incidents/PINC1", json={"incident": incident_json(status="acknowledged")})
        pd.post(f"{API}/incidents/PINC1/snooze", json={"incident": answer}, status=201)
        pd.get(f"{API}/incidents/PINC1/log_entries", json={"log_entries": [_snooze_entry("2026-11-20T11:10:00Z")]})
        response = client_as(responder).post(
            "/incidents/PINC1/snooze/", {"duration": "3600", "expected_status": "acknowledged"}
        )
        assert response.status_code in (200, 302), response.content[:500]
        snooze = next(c for c in pd.calls if c.request.url.endswith("/snooze"))
        assert json.loads(snooze.request.body) == {"duration": 3600}
    html = client_as(responder).get("/incidents/PINC1/?partial=incident-state").content.decode()
    assert "snoozed until" in html and "2026-11-20 12:10 CET" in html


# -- the incident's escalation policy ---------------------------------------------------------------------------------


@pytest.fixture
def private_policy_incident(db):
    """An incident on a private team's policy, assigned to the responder persona (so the responder sees it)."""

    Team.objects.create(pd_id="PTSEC", name="Security", default_role=Team.PRIVATE)
    _policy("PEPSEC", teams=[ref("team", "PTSEC", "Security")])
    rita = seed_users()["responder@example.com"]
    return mirror.upsert_incident(
        incident_json(
            "PSEC1",
            5,
            teams=[ref("team", "PTSEC", "Security")],
            escalation_policy=ref("escalation_policy", "PEPSEC", "Security On-Call"),
            assignments=[{"at": T0, "assignee": ref("user", rita.pd_id, "Rita Responder")}],
        )
    )


def test_a_responder_reads_the_policy_of_an_incident_they_see(client_as, responder, private_policy_incident):
    client = client_as(responder)
    assert client.get("/incidents/PSEC1/").status_code == 200
    page = client.get("/incidents/PSEC1/policy/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Level 3" in html and "after 15 minutes" in html and "Omar Oncall" in html
    assert 'hx-get="/incidents/PSEC1/policy/?partial=policy-levels"' in html
    assert client.get("/incidents/PSEC1/policy/?partial=policy-levels").status_code == 200
    # The policy pages themselves keep the visibility rule: a private team's policy, not on it.
    assert client.get("/escalation-policies/PEPSEC/").status_code == 404


def test_an_observer_reads_an_incidents_policy_only_when_the_visibility_rule_shows_it(client_as, observer, db):
    _policy()
    mirror.upsert_incident(incident_json())
    client = client_as(observer)
    assert client.get("/incidents/PINC1/policy/").status_code == 200


def test_an_outsider_cannot_open_a_private_teams_policy(client_as, outsider, observer, private_policy_incident):
    for person in (outsider, observer):
        client = client_as(person)
        assert client.get("/incidents/PSEC1/policy/").status_code in (403, 404)
        assert client.get("/escalation-policies/PEPSEC/").status_code in (403, 404)
        assert "Security On-Call" not in client.get("/incidents/PSEC1/policy/").content.decode()


def test_the_incident_links_to_its_policy_page(client_as, responder, snoozed):
    html = client_as(responder).get("/incidents/PINC1/").content.decode()
    assert 'href="/incidents/PINC1/policy/" id="incident-policy"' in html
