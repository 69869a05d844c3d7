"""Visible state in a real browser, checked against the sandbox: the level and its holder, the time to the next
escalation (the seeded policy's delays), the acknowledgement timeout, "snoozed until" on the incident and in the
list (also live, in a second browser served by another process), requested responders and their answers, and the
incident's escalation policy (a responder opens it; a private team's stays closed to a non-member).

The portal runs as in production (tests/e2e/portal.py); no Celery worker runs here, so the refetch a worker does
after each webhook (incidents.tasks.enrich_incident) is run as the worker would, by a script.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.portal import signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

ADMIN = {"From": "admin@example.com"}
BERLIN = ZoneInfo("Europe/Berlin")  # the responder persona's zone
ENRICH = """
import django
django.setup()
from incidents.webhooks import enrich_incident
enrich_incident("%s")
print("refetched")
"""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _shown(moment: datetime) -> str:
    """The `when` filter's words for a moment, in the responder's zone."""
    local = moment.astimezone(BERLIN)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _pending(sandbox, incident_id: str, kind: str) -> datetime:
    incident = sandbox.get(f"/incidents/{incident_id}").json()["incident"]
    [at] = [_at(p["at"]) for p in incident["pending_actions"] if p["type"] == kind]
    return at


def _instant(locator) -> datetime:
    return _at(locator.get_attribute("datetime"))


def _trigger(sandbox, page, portal, service: str) -> dict:
    """A new incident in the sandbox; waits for its webhook to put it on the open list, then refetches it."""
    from playwright.sync_api import expect

    page.goto(f"{portal.url}/")
    wait_live(page)
    body = {
        "incident": {
            "type": "incident",
            "title": "Checkout latency",
            "service": {"id": service, "type": "service_reference"},
        }
    }
    response = sandbox.post("/incidents", headers=ADMIN, json=body)
    assert response.status_code == 201, response.text
    incident = response.json()["incident"]
    expect(page.locator(f"#incident-row-{incident['id']}")).to_be_visible()
    assert portal.python(ENRICH % incident["id"]) == "refetched"
    return incident


def test_level_next_escalation_acknowledgement_timeout_and_snooze_match_the_sandbox(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    watcher_context, watcher = signed_in_page(chromium, portal)
    try:
        # API Gateway is on Platform On-Call: level 1 Rita Responder for 15 minutes, level 2 Omar Oncall for 20.
        incident = _trigger(sandbox, page, portal, sandbox.services["API Gateway"])
        pd_id = incident["id"]
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        expect(page.locator("#incident-level")).to_contain_text("Level 1 of 3")
        expect(page.locator("#incident-level")).to_contain_text("Rita Responder")
        next_escalation = page.locator("#incident-next-escalation")
        expect(next_escalation).to_contain_text("to level 2 at")
        due = _at(incident["created_at"]) + timedelta(minutes=15)
        assert _pending(sandbox, pd_id, "escalate") == due
        assert _instant(next_escalation.locator("time").first) == due
        expect(next_escalation).to_contain_text(_shown(due))
        # The countdown is the `ago` filter's phrase, ticking in the page (live.js).
        expect(next_escalation.locator("time[data-ago]")).to_have_text(re.compile(r"^in 1[45]m$"))
        # The incident's policy, with its levels and delays, one click away.
        expect(page.locator("#incident-policy-levels")).to_contain_text("escalates after 15 minutes")

        # Acknowledge: no escalation while acknowledged; the service's acknowledgement timeout instead.
        page.click("#btn-acknowledge")
        expect(page.locator("#incident-status")).to_have_text("acknowledged")
        expect(next_escalation).to_contain_text("none while acknowledged")
        lapse = page.locator("#incident-ack-timeout")
        expect(lapse).to_contain_text("lapses at")
        assert _instant(lapse.locator("time").first) == _pending(sandbox, pd_id, "unacknowledge")

        # Snooze for an hour: the page says until when; a second browser (another server process) sees it live.
        watcher.goto(f"{portal.other_url}/incidents/{pd_id}/")
        wait_live(watcher)
        page.select_option("#incident-header select[name=duration]", "3600")
        page.click("#btn-snooze")
        snoozed = page.locator("#incident-snoozed")
        expect(snoozed).to_contain_text("snoozed until")
        until = _pending(sandbox, pd_id, "unacknowledge")
        assert _instant(snoozed.locator("time").first) == until
        expect(snoozed).to_contain_text(_shown(until))
        expect(page.locator("#incident-ack-timeout")).to_have_count(0)
        expect(watcher.locator("#incident-snoozed")).to_contain_text(_shown(until))

        # The list says it too, from the same columns.
        page.goto(f"{portal.url}/")
        row = page.locator(f"#incident-row-{pd_id}")
        expect(row).to_contain_text("snoozed until")
        expect(row.locator(".timer")).to_contain_text(_shown(until))
        assert _instant(row.locator(".timer time").first) == until

        # Escalate to level 2: Omar Oncall holds it, and level 3 follows after level 2's 20 minutes.
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        page.locator("#incident-actions summary", has_text="Escalate").click()
        page.select_option("#incident-actions select[name=level]", "2")
        page.locator("#incident-actions form[action$='/escalate/'] button[type=submit]").click()
        expect(page.locator("#incident-level")).to_contain_text("Level 2 of 3")
        expect(page.locator("#incident-level")).to_contain_text("Omar Oncall")
        expect(next_escalation).to_contain_text("to level 3 at")
        due = _pending(sandbox, pd_id, "escalate")
        assert _instant(next_escalation.locator("time").first) == due
        escalated = sandbox.get(f"/incidents/{pd_id}").json()["incident"]
        assert due == _at(escalated["updated_at"]) + timedelta(minutes=20)
        expect(page.locator("#incident-snoozed")).to_have_count(0)
        # And the list row shows the level and when it escalates next.
        page.goto(f"{portal.url}/")
        timer = page.locator(f"#incident-row-{pd_id} .timer")
        expect(timer).to_contain_text("level 2, escalates")
        assert _instant(timer.locator("time").first) == due
    finally:
        context.close()
        watcher_context.close()


def test_requested_responders_and_their_answers_show_on_the_incident(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        incident = _trigger(sandbox, page, portal, sandbox.services["Checkout"])
        pd_id = incident["id"]
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        wait_live(page)
        omar = sandbox.get("/users", params={"query": "oncall@example.com"}).json()["users"][0]["id"]
        page.locator("#incident-actions summary", has_text="Add responders").click()
        form = page.locator("#incident-actions form[action$='/responders/']")
        form.locator("select[name=users]").select_option(omar)
        form.locator("textarea, input[name=message]").first.fill("Please look at the database")
        form.locator("button[type=submit]").click()
        responder = page.locator(f"#responder-{omar}")
        expect(responder).to_contain_text("Omar Oncall")
        expect(responder).to_contain_text("pending")
        # Omar accepts in PagerDuty's app: the responder.replied webhook reaches the open page live.
        answered = sandbox.client.post(f"/web/incidents/{pd_id}/responders/{omar}", data={"answer": "accept"})
        assert answered.status_code == 302
        expect(responder.locator(".responder-accepted")).to_have_text("accepted")
    finally:
        context.close()


def test_a_responder_opens_the_incidents_policy_and_not_a_private_teams(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        incident = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()["incidents"][0]
        page.goto(f"{portal.url}/incidents/{incident['id']}/")
        page.locator("#incident-policy").click()
        expect(page.locator("h1")).to_have_text(incident["escalation_policy"]["summary"])
        expect(page.locator("#policy-levels")).to_contain_text("minutes without acknowledgement")
        # Security is a private team the responder is not on: its policy page does not open, nor name itself.
        private = next(
            p["id"]
            for p in sandbox.get("/escalation_policies").json()["escalation_policies"]
            if p["name"] == "Security On-Call"
        )
        response = page.goto(f"{portal.url}/escalation-policies/{private}/")
        assert response is not None and response.status == 404
        assert "Security On-Call" not in page.content()
    finally:
        context.close()
