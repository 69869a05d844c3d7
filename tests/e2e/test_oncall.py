"""On call in a real browser: who is on call, "take the pager" seen live by a second browser, policies, timeline.

The portal runs as in production (uvicorn processes sharing SQLite and Redis, see test_live_updates), so the
second browser, served by another process, can only learn of the override through the live bus.
"""

from __future__ import annotations

import pytest

from tests.e2e.portal import SESSION_SCRIPT, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

REFRESH_SCRIPT = """
import django
django.setup()
from accounts.clients import account_client
from services.oncall_mirror import oncalls_refresh
print(oncalls_refresh(client=account_client()).oncalls)
"""


@pytest.fixture(scope="module")
def oncall_portal(portal):
    assert int(portal.python(REFRESH_SCRIPT)) > 0
    portal.observer_session = portal.python(SESSION_SCRIPT % "observer@example.com")
    return portal


def _sign_in(chromium, session_key, url):
    context = chromium.new_context()
    context.add_cookies([{"name": "sessionid", "value": session_key, "url": url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def _oncall_now(sandbox, policy_name):
    body = sandbox.get("/oncalls", params={"limit": 100}).json()["oncalls"]
    return {o["user"]["summary"] for o in body if o["escalation_policy"]["summary"] == policy_name}


def _policy_id(sandbox, name):
    return next(p["id"] for p in sandbox.get("/escalation_policies").json()["escalation_policies"] if p["name"] == name)


def test_the_oncall_page_names_the_people_the_sandbox_reports_on_call(chromium, oncall_portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, oncall_portal)
    try:
        page.goto(f"{oncall_portal.url}/oncall/")
        for policy in ("Platform On-Call", "Payments On-Call", "Mobile On-Call"):
            table = page.locator(f"#oncall-{_policy_id(sandbox, policy)}")
            for name in _oncall_now(sandbox, policy):
                expect(table).to_contain_text(name)
        expect(page.locator("#my-shifts")).to_contain_text("Platform Primary")
    finally:
        context.close()


def test_taking_the_pager_for_an_hour_shows_at_once_and_in_a_second_browser_without_reload(
    chromium, oncall_portal, sandbox
):
    from playwright.sync_api import expect

    mobile = _policy_id(sandbox, "Mobile On-Call")
    assert "Rita Responder" not in _oncall_now(sandbox, "Mobile On-Call")
    ctx_a, rita = signed_in_page(chromium, oncall_portal)
    # The observer's page is served by the other process: it hears of the override only through Redis.
    ctx_b, watcher = _sign_in(chromium, oncall_portal.observer_session, oncall_portal.other_url)
    try:
        watcher.goto(f"{oncall_portal.other_url}/oncall/")
        expect(watcher.locator(f"#oncall-{mobile}")).not_to_contain_text("Rita Responder")
        wait_live(watcher)
        watcher.evaluate("window.__notReloaded = true")

        rita.goto(f"{oncall_portal.url}/schedules/")
        rita.get_by_role("link", name="Mobile Business Hours").click()
        rita.get_by_label("1 hour").check()
        rita.click("#btn-take-pager")
        expect(rita.locator("#messages")).to_contain_text("Rita Responder is on call on Mobile Business Hours")
        expect(rita.locator("#schedule-oncall-now")).to_contain_text("Rita Responder")
        expect(rita.locator("#schedule-overrides")).to_contain_text("Rita Responder")
        rita.goto(f"{oncall_portal.url}/oncall/")
        expect(rita.locator(f"#oncall-{mobile}")).to_contain_text("Rita Responder")

        expect(watcher.locator(f"#oncall-{mobile}")).to_contain_text("Rita Responder", timeout=10_000)
        assert watcher.evaluate("window.__notReloaded") is True
        assert "Rita Responder" in _oncall_now(sandbox, "Mobile On-Call")
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_responder_opens_the_escalation_policy_from_an_incident(chromium, oncall_portal, sandbox):
    from playwright.sync_api import expect

    incident = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()["incidents"][0]
    policy_name = incident["escalation_policy"]["summary"]
    context, page = signed_in_page(chromium, oncall_portal)
    try:
        page.goto(f"{oncall_portal.url}/incidents/{incident['id']}/")
        page.locator("#incident-policy").click()
        expect(page.locator("h1")).to_have_text(policy_name)
        levels = page.locator("#policy-levels")
        expect(levels).to_contain_text("Level 1")
        expect(levels).to_contain_text("minutes without acknowledgement")
        for name in _oncall_now(sandbox, policy_name):
            expect(levels).to_contain_text(name)
    finally:
        context.close()


def test_the_schedule_timeline_shows_an_override(chromium, oncall_portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, oncall_portal)
    try:
        page.goto(f"{oncall_portal.url}/schedules/")
        page.get_by_role("link", name="Platform Primary").click()
        chart = page.locator("#schedule-timeline svg[role=img]")
        expect(chart).to_be_visible()
        override = chart.locator("rect.override")
        expect(override.first).to_be_visible()
        expect(override.first.locator("title")).to_contain_text("Override: Adam Admin")
        assert chart.locator("rect.bar").count() > 5
    finally:
        context.close()
